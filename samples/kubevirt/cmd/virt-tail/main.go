// Command virt-tail is a stand-in for KubeVirt's virt-tail: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("virt-tail") }
