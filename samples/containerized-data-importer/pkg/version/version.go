// Package version holds the build identity that the spec links into every binary with the
// -X ldflags of hack/build/version.sh, under the same package path and variable names as
// upstream CDI.
package version

// Overridden at link time; the defaults mark a binary built without the version stamp.
var (
	gitVersion   = "v0.0.0-unset"
	gitCommit    = ""
	gitTreeState = ""
	buildDate    = "1970-01-01T00:00:00Z"
)

// GitVersion is the release this binary was built from, e.g. "v1.66.0".
func GitVersion() string { return gitVersion }

// BuildInfo is a one-line summary of every linked value.
func BuildInfo() string {
	return "commit=" + gitCommit + " tree=" + gitTreeState + " date=" + buildDate
}
