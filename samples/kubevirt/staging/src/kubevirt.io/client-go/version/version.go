// Package version holds the build identity that hack/build-go.sh links into every binary
// with -X ldflags, under the same package path and variable names as upstream KubeVirt.
package version

// Overridden at link time; the defaults mark a binary built without hack/build-go.sh.
var (
	gitVersion   = "v0.0.0-unset"
	gitCommit    = ""
	gitTreeState = ""
	buildDate    = "1970-01-01T00:00:00Z"
)

// Info is what a component reports about its own build.
type Info struct {
	GitVersion   string
	GitCommit    string
	GitTreeState string
	BuildDate    string
}

// Get returns the values linked into this binary.
func Get() Info {
	return Info{GitVersion: gitVersion, GitCommit: gitCommit, GitTreeState: gitTreeState, BuildDate: buildDate}
}
