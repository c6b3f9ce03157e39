// Package tests stands in for KubeVirt's functional test suite (built only with build_tests=true).
package tests

import (
	"testing"

	"kubevirt.io/client-go/version"
)

func TestVersionLinked(t *testing.T) {
	if version.Get().GitVersion == "" {
		t.Fatal("no version linked into the test binary")
	}
}
