// Package version holds the build identity that the spec links into every binary with the
// -X ldflags of hack/version.sh, under the same package path and variable names as upstream
// KubeVirt.
package version

// Overridden at link time; the defaults mark a binary built without the version stamp.
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
