// Command cdi-source-update-poller is a stand-in for CDI's cdi-source-update-poller: it reports its name and linked version.
package main

import "kubevirt.io/containerized-data-importer/pkg/component"

func main() { component.Main("cdi-source-update-poller") }
