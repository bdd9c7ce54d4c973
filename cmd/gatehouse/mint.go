package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/spf13/cobra"
)

// Defaults of the demo identity provider (envoy/demo/gatehouse.yaml trusts these).
const (
	demoSigningKey = "envoy/demo/keys/demo-signing-key.jwk"
	demoIssuer     = "https://auth.demo.gatehouse.local"
	demoAudience   = "documents-api"
)

func newMintTokenCommand() *cobra.Command {
	var keyFile, sub, iss, email string
	var aud, roles, claims []string
	var ttl time.Duration
	var expired bool
	cmd := &cobra.Command{
		Use:   "mint-token --sub ID --roles R1,R2",
		Short: "Mint a JWT signed with a private JWK (the demo key by default), for the demo and tests",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sub == "" {
				return usageError{errors.New("--sub is required")}
			}
			data, err := os.ReadFile(keyFile)
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			key, err := jwk.ParseKey(data)
			if err != nil {
				return usageError{fmt.Errorf("--key %s: %w", keyFile, err)}
			}
			alg, ok := key.Algorithm()
			if !ok {
				return usageError{fmt.Errorf("--key %s: the key has no \"alg\"", keyFile)}
			}
			sigAlg, ok := jwa.LookupSignatureAlgorithm(alg.String())
			if !ok {
				return usageError{fmt.Errorf("--key %s: %q is not a signature algorithm", keyFile, alg)}
			}
			now := time.Now()
			b := jwt.NewBuilder().Subject(sub).Issuer(iss).Audience(aud).IssuedAt(now).Expiration(now.Add(ttl))
			if expired {
				b = b.IssuedAt(now.Add(-2 * time.Hour)).Expiration(now.Add(-time.Hour))
			}
			if len(roles) > 0 {
				b = b.Claim("roles", roles)
			}
			if email != "" {
				b = b.Claim("email", email)
			}
			for _, c := range claims {
				name, raw, ok := strings.Cut(c, "=")
				if !ok || name == "" {
					return usageError{fmt.Errorf("--claim %q: want NAME=JSON", c)}
				}
				var v any
				if err := json.Unmarshal([]byte(raw), &v); err != nil {
					v = raw // a bare string
				}
				b = b.Claim(name, v)
			}
			tok, err := b.Build()
			if err != nil {
				return err
			}
			signed, err := jwt.Sign(tok, jwt.WithKey(sigAlg, key))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(signed))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", demoSigningKey, "private JWK that signs the token")
	f.StringVar(&sub, "sub", "", "subject (the principal id)")
	f.StringSliceVar(&roles, "roles", nil, "roles claim")
	f.StringVar(&email, "email", "", "email claim")
	f.StringVar(&iss, "iss", demoIssuer, "issuer")
	f.StringSliceVar(&aud, "aud", []string{demoAudience}, "audience")
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	f.BoolVar(&expired, "expired", false, "mint a token that expired an hour ago")
	f.StringArrayVar(&claims, "claim", nil, "extra claim NAME=JSON (repeatable)")
	return cmd
}
