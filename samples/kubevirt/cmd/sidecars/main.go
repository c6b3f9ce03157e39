// Command sidecar-shim is a stand-in for KubeVirt's sidecar-shim: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("sidecar-shim") }
