// Package component is the shared entry point of the sample binaries: each one only reports
// who it is, which is all the packaging around it needs to check.
package component

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"kubevirt.io/client-go/version"
)

// Main prints "<name> <gitVersion> <GOOS>/<GOARCH>" (the platform it was built for: each image
// of a multi-arch index shows which binary it runs) for no arguments or --version and exits 0;
// any other argument is a usage error (exit 2), so a wrong invocation in a container is visible.
func Main(name string) {
	os.Exit(run(name, os.Args[1:], os.Stdout, os.Stderr))
}

func run(name string, args []string, stdout, stderr io.Writer) int {
	info := version.Get()
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "--version"):
		fmt.Fprintf(stdout, "%s %s %s/%s\n", name, info.GitVersion, runtime.GOOS, runtime.GOARCH)
		return 0
	case len(args) == 1 && args[0] == "--build-info":
		fmt.Fprintf(stdout, "%s %s commit=%s tree=%s date=%s\n",
			name, info.GitVersion, info.GitCommit, info.GitTreeState, info.BuildDate)
		return 0
	default:
		fmt.Fprintf(stderr, "usage: %s [--version|--build-info]\n", name)
		return 2
	}
}
