// Package component is the shared entry point of the sample binaries: each one only reports
// who it is, which is all the packaging around it needs to check.
package component

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"kubevirt.io/containerized-data-importer/pkg/version"
)

// Main prints "<name> <gitVersion> <GOOS>/<GOARCH>" (the platform it was built for: each image
// of a multi-arch index shows which binary it runs) for no arguments or --version and exits 0;
// any other argument is a usage error (exit 2). The logging flags upstream's binaries take from klog
// (-alsologtostderr, -v=N, as the images' entrypoints pass them) are accepted and ignored.
func Main(name string) {
	os.Exit(run(name, withoutLogFlags(os.Args[1:]), os.Stdout, os.Stderr))
}

func withoutLogFlags(args []string) []string {
	kept := []string{}
	for _, arg := range args {
		flag := strings.TrimLeft(arg, "-")
		if flag == "alsologtostderr" || flag == "logtostderr" || strings.HasPrefix(flag, "v=") {
			continue
		}
		kept = append(kept, arg)
	}
	return kept
}

func run(name string, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "--version"):
		fmt.Fprintf(stdout, "%s %s %s/%s\n", name, version.GitVersion(), runtime.GOOS, runtime.GOARCH)
		return 0
	case len(args) == 1 && args[0] == "--build-info":
		fmt.Fprintf(stdout, "%s %s %s\n", name, version.GitVersion(), version.BuildInfo())
		return 0
	default:
		fmt.Fprintf(stderr, "usage: %s [--version|--build-info]\n", name)
		return 2
	}
}
