// Command cdi-apiserver is a stand-in for CDI's cdi-apiserver: it reports its name and linked version.
package main

import "kubevirt.io/containerized-data-importer/pkg/component"

func main() { component.Main("cdi-apiserver") }
