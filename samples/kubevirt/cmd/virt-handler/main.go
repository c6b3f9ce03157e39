// Command virt-handler is a stand-in for KubeVirt's virt-handler: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("virt-handler") }
