// Package component is the shared entry point of the sample binaries: each one only reports
// who it is, which is all the packaging around it needs to check.
package component

import (
	"fmt"
	"io"
	"os"

	"kubevirt.io/containerized-data-importer/pkg/version"
)

// Main prints "<name> <gitVersion>" for no arguments or --version and exits 0; any other
// argument is a usage error (exit 2).
func Main(name string) {
	os.Exit(run(name, os.Args[1:], os.Stdout, os.Stderr))
}

func run(name string, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "--version"):
		fmt.Fprintf(stdout, "%s %s\n", name, version.GitVersion())
		return 0
	case len(args) == 1 && args[0] == "--build-info":
		fmt.Fprintf(stdout, "%s %s %s\n", name, version.GitVersion(), version.BuildInfo())
		return 0
	default:
		fmt.Fprintf(stderr, "usage: %s [--version|--build-info]\n", name)
		return 2
	}
}
