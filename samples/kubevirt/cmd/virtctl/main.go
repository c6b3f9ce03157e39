// Command virtctl is a stand-in for KubeVirt's virtctl: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("virtctl") }
