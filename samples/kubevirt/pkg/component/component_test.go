package component

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunReportsNameAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run("virt-api", []string{"--version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out.String(), "virt-api v") {
		t.Fatalf("unexpected output %q", out.String())
	}
	if code := run("virt-api", []string{"--bogus"}, &out, &errOut); code != 2 {
		t.Fatalf("bad argument gave exit %d, want 2", code)
	}
}
