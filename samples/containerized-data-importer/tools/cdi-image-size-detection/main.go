// Command cdi-image-size-detection is a stand-in for CDI's cdi-image-size-detection: it reports its name and linked version.
package main

import "kubevirt.io/containerized-data-importer/pkg/component"

func main() { component.Main("cdi-image-size-detection") }
