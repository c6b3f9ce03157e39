// Command cdi-uploadproxy is a stand-in for CDI's cdi-uploadproxy: it reports its name and linked version.
package main

import "kubevirt.io/containerized-data-importer/pkg/component"

func main() { component.Main("cdi-uploadproxy") }
