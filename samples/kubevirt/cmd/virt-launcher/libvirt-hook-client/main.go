// Command libvirt-hook-client is a stand-in for the hook client shipped in virt-launcher.
package main

import "kubevirt.io/kubevirt/pkg/component"

func main() { component.Main("libvirt-hook-client") }
