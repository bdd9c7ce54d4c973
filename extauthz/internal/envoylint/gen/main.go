// Command gen writes descriptors.binpb.gz, the protobuf descriptors of the Envoy types
// gatehouse lint-envoy reads (see package envoydesc). Run it with go generate in
// extauthz/internal/envoylint after upgrading go-control-plane or changing the list of
// extension types; TestEmbeddedDescriptorsAreCurrent fails until then.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoylint/internal/envoydesc"
)

func main() {
	out := flag.String("o", "descriptors.binpb.gz", "file to write")
	flag.Parse()
	set := envoydesc.Set()
	data, err := envoydesc.Encode(set)
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("gen: wrote %s: %d files, %d bytes\n", *out, len(set.File), len(data))
}
