// Command virt-launcher-monitor is a stand-in for KubeVirt's virt-launcher-monitor: it reports its name and linked version.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("virt-launcher-monitor") }
