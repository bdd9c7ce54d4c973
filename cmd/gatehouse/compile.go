package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module
// build information is used.
var version = ""

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gatehouse version",
		Args:  usageArgs(cobra.NoArgs),
		Run: func(cmd *cobra.Command, _ []string) {
			v := version
			info, ok := debug.ReadBuildInfo()
			if v == "" && ok {
				v = info.Main.Version
			}
			rev := ""
			if ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s", v)
			if rev != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " (%s)", rev)
			}
			fmt.Fprintln(cmd.OutOrStdout())
		},
	}
}
