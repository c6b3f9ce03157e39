// Command virt-operator is a stand-in for KubeVirt's virt-operator: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("virt-operator") }
