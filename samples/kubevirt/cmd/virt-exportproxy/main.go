// Command virt-exportproxy is a stand-in for KubeVirt's virt-exportproxy: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("virt-exportproxy") }
