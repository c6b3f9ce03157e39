// Command cdi-containerimage-server is a stand-in for CDI's cdi-containerimage-server: it reports its name and linked version.
package main

import "kubevirt.io/containerized-data-importer/pkg/component"

func main() { component.Main("cdi-containerimage-server") }
