package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/extauthz"
)

func newLintEnvoyCommand() *cobra.Command {
	var configPath, failOn string
	cmd := &cobra.Command{
		Use:   "lint-envoy [--config gatehouse.yaml] [--fail-on warning|error] FILE...",
		Short: "Check Envoy bootstraps and Istio mesh configs for risky ext_authz settings",
		Long: `lint-envoy reads Envoy bootstraps (YAML or JSON) and Istio mesh configurations and
reports the ext_authz settings that would make the proxy fail open, never call gatehouse,
or send less than gatehouse needs. Run it before deploying a proxy configuration.

Inputs, recognised by shape (a file may hold several YAML documents; "-" is stdin):
  - an Envoy bootstrap: static listeners, their HTTP connection managers and network
    filters, inline route configurations and static clusters;
  - an Istio mesh configuration: a MeshConfig (extensionProviders), an IstioOperator
    (spec.meshConfig), Helm values (meshConfig), or the istio ConfigMap (data.mesh);
  - a Kubernetes ConfigMap whose data holds an Envoy bootstrap (a key ending in .yaml,
    .yml or .json).
Reading is strict: YAML errors, unknown fields and wrong value types stop the file with
their line, as Envoy and Istio would refuse it. A typed_config whose type lint-envoy does
not know is skipped with a warning (a note outside the filter chains), so that
configurations with other extensions are still checked.

Checks of the Envoy ext_authz HTTP filter (and, where they apply, the network filter):
  error    failure_mode_allow: true (fails open)
  error    shadow_mode: true (never denies)
  warning  status_on_error unset (Envoy answers 403) or below 500: outages look like
           denials; use 503
  warning  grpc_service.timeout unset (Envoy's default is 200ms) or above 5s
  error    grpc_service.timeout 0s (no deadline)
  error    transport_api_version not V3 (Envoy rejects it; unset counts)
  error    http_service instead of grpc_service (gatehouse serves gRPC only) or no service
  error    the envoy_grpc cluster is not among the static clusters (a note when CDS is
           configured), or it does not speak HTTP/2 (gRPC needs it; ALPN auto_config
           and use_downstream_protocol_config are warnings)
  error    ext_authz after the router filter (Envoy refuses it; it could never run)
  warning  an HTTP connection manager without ext_authz (the listener is not protected)
  warning  ext_authz with disabled: true (only routes that enable it are checked)
  warning  filter_enabled below 100% or filter_enabled_metadata, unless deny_at_disable
           is true (requests skip the check); a note for a filter_enabled runtime key
  warning  upgrade_configs with their own filter chain without ext_authz
  error    Envoy's own validation of the filter's settings fails (the protoc-gen-validate
           rules of Envoy's protos; envoy --mode validate checks everything else)
Checks of routes (inline route_config; with RDS a note says routes are not checked):
  warning  ExtAuthzPerRoute disabled: true on a virtual host, or on a route that is not
           an exact health-check path (` + strings.Join(extauthz.LintHealthPaths(), ", ") + `);
           routes Envoy answers itself (direct_response, redirect) are fine
  error    per-route check_settings with http_service; per-route grpc_service is
           checked like the filter's
Checks against gatehouse's configuration (--config; skipped with a note without it):
  warning  with_request_body unset while expressions read request.body (they see null)
  warning  allow_partial_message: true while expressions read request.body (partial
           JSON is not parsed), or max_request_bytes above requests.maxBodyBytes
  warning  per-route disable_request_body_buffering while expressions read request.body
  warning  max_request_bytes (plus 64 KiB of headers) above
           server.grpc.maxReceiveMessageBytes (such checks fail)
  note     with_request_body set while no expression reads request.body
  warning  a jwtAuthn identity source whose namespace is not in
           metadata_context_namespaces, or no jwt_authn filter before ext_authz
  warning  allowed_headers / disallowed_headers that drop a header an identity source
           reads (the JWT header, trusted identity headers)
  error    a network ext_authz filter while requests.nonHTTP is deny (every connection
           is refused)
Checks of Istio providers (extensionProviders):
  error    envoyExtAuthzHttp (gatehouse serves gRPC only)
  error    failOpen: true
  warning  statusOnError unset (Istio answers 403) or below 500; error if not a status
  warning  timeout unset (Istio's default is 600s) or above 5s; error for 0s
  error    service or port missing or invalid
  warning  no envoyExtAuthzGrpc provider at all
  warning  with --config: includeRequestBodyInCheck unset, allowPartialMessage: true or
           maxRequestBytes above requests.maxBodyBytes while expressions read
           request.body; jwtAuthn identity sources (Istio runs CUSTOM authorization before
           its JWT filter and forwards no metadata); routes that match on
           contextExtensions (Istio sends none)

Output: one line per finding, "file:line: severity: message (path)", where path names the
setting (a missing setting by the path it would have, on the line of the nearest
enclosing one), then a summary line.

Exit status: 0 when no finding reaches --fail-on (notes never do), 1 when one does
(with the default --fail-on warning, any warning or error), 2 for usage errors, 3 when a
file (or the --config file) cannot be read or parsed.`,
		Example: `  gatehouse lint-envoy --config envoy/demo/gatehouse.yaml envoy/local/envoy.yaml
  gatehouse lint-envoy --config envoy/istio/gatehouse.yaml envoy/istio/mesh-config.yaml
  kubectl get configmap istio -n istio-system -o yaml | gatehouse lint-envoy -`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			threshold, err := extauthz.ParseSeverity(failOn)
			if err != nil || threshold == extauthz.SeverityNote {
				return usageError{fmt.Errorf("--fail-on %q: want warning or error", failOn)}
			}
			var cfg *extauthz.Config
			if configPath != "" {
				if cfg, err = extauthz.LoadConfig(configPath); err != nil {
					return configError{err}
				}
			}
			return lintEnvoy(cmd.InOrStdin(), cmd.OutOrStdout(), args, cfg, threshold)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "gatehouse configuration the proxy calls (enables the checks against it)")
	cmd.Flags().StringVar(&failOn, "fail-on", "warning", "lowest severity that makes the exit status 1: warning or error")
	return cmd
}

// lintEnvoy lints every file, prints the findings and a summary, and returns the error
// that sets the exit status.
func lintEnvoy(stdin io.Reader, out io.Writer, files []string, cfg *extauthz.Config, threshold extauthz.Severity) error {
	var counts [3]int
	var unreadable []error
	failing := 0
	if cfg == nil {
		fmt.Fprintln(out, "note: no --config: the checks against gatehouse's configuration (request bodies, jwtAuthn metadata, identity headers, requests.nonHTTP) are skipped")
	}
	for _, name := range files {
		var data []byte
		var err error
		if name == "-" {
			data, err = io.ReadAll(stdin)
			name = "<stdin>"
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		findings, err := extauthz.LintEnvoy(name, data, cfg)
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		for _, f := range findings {
			fmt.Fprintln(out, f)
			counts[f.Severity]++
			if f.Severity >= threshold {
				failing++
			}
		}
	}
	fmt.Fprintf(out, "%d file(s): %d error(s), %d warning(s), %d note(s)\n", len(files),
		counts[extauthz.SeverityError], counts[extauthz.SeverityWarning], counts[extauthz.SeverityNote])
	if len(unreadable) > 0 {
		return configError{errors.Join(unreadable...)}
	}
	if failing > 0 {
		return failedError{fmt.Sprintf("lint-envoy: %d finding(s) at or above %s", failing, threshold)}
	}
	return nil
}
