package jwtverify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// keySource produces the JWK set to verify with. Its load method is only ever called by
// one goroutine at a time (keyStore serialises loads).
type keySource interface {
	// load returns the current set; unchanged is true, with a nil set, when the source
	// knows nothing changed since its previous load.
	load(ctx context.Context) (set jwk.Set, unchanged bool, err error)
}

// fileSource reads a JWK set (or single JWK) file, and re-reads it only when its
// identity, size or modification time changed since the previous read.
type fileSource struct {
	path string
	last os.FileInfo
}

func (f *fileSource) load(context.Context) (jwk.Set, bool, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, false, err
	}
	if f.last != nil && os.SameFile(f.last, fi) && fi.Size() == f.last.Size() && fi.ModTime().Equal(f.last.ModTime()) {
		return nil, true, nil
	}
	data, err := readLimited(f.path)
	if err != nil {
		return nil, false, err
	}
	// Remember the file even when it does not parse: it is not read again (nor the same
	// error logged again) until it changes.
	f.last = fi
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, false, err
	}
	return set, false, nil
}

func readLimited(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxJWKSBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBody {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBody)
	}
	return data, nil
}

// urlSource fetches a JWK set over HTTP(S) with jwx's jwk.Fetch. The URL comes from
// configuration only; nothing in a token can change it.
type urlSource struct {
	url    string
	client *http.Client
}

func (u *urlSource) load(ctx context.Context) (jwk.Set, bool, error) {
	set, err := jwk.Fetch(ctx, u.url, jwk.WithHTTPClient(u.client), jwk.WithMaxFetchBodySize(maxJWKSBody))
	return set, false, err
}
