// Command manifest-generator produces the sample's CDI manifests. It takes the flags of
// upstream CDI's generator that hack/build/resource-generator.sh passes, in its two modes:
// -resource-type/-resource-group print generated resources (here: the operator's
// ServiceAccount and Deployment), and -template renders a manifests/templates/*.in file that
// can include the generated resources. Standard library only, because the build script
// compiles it with GO111MODULE=off like upstream.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

type templateData struct {
	Namespace              string
	CrName                 string
	DockerRepo             string
	DockerTag              string
	OperatorVersion        string
	DeployClusterResources string
	OperatorImage          string
	ControllerImage        string
	ImporterImage          string
	ClonerImage            string
	OvirtPopulatorImage    string
	APIServerImage         string
	UploadProxyImage       string
	UploadServerImage      string
	Verbosity              string
	PullPolicy             string
	GeneratedManifests     map[string]string
}

func main() {
	d := templateData{GeneratedManifests: map[string]string{}}
	tmplPath := flag.String("template", "", "template file to render")
	resourceType := flag.String("resource-type", "", "kind of generated resources (operator)")
	resourceGroup := flag.String("resource-group", "", "group of generated resources (everything)")
	genDir := flag.String("generated-manifests-path", "", "directory of generated manifests")
	flag.StringVar(&d.Namespace, "namespace", "cdi", "")
	flag.StringVar(&d.CrName, "cr-name", "cdi", "")
	flag.StringVar(&d.DockerRepo, "docker-repo", "", "")
	flag.StringVar(&d.DockerTag, "docker-tag", "", "")
	flag.StringVar(&d.OperatorVersion, "operator-version", "", "")
	flag.StringVar(&d.DeployClusterResources, "deploy-cluster-resources", "true", "")
	flag.StringVar(&d.OperatorImage, "operator-image", "", "")
	flag.StringVar(&d.ControllerImage, "controller-image", "", "")
	flag.StringVar(&d.ImporterImage, "importer-image", "", "")
	flag.StringVar(&d.ClonerImage, "cloner-image", "", "")
	flag.StringVar(&d.OvirtPopulatorImage, "ovirt-populator-image", "", "")
	flag.StringVar(&d.APIServerImage, "apiserver-image", "", "")
	flag.StringVar(&d.UploadProxyImage, "uploadproxy-image", "", "")
	flag.StringVar(&d.UploadServerImage, "uploadserver-image", "", "")
	flag.StringVar(&d.Verbosity, "verbosity", "1", "")
	flag.StringVar(&d.PullPolicy, "pull-policy", "IfNotPresent", "")
	flag.Parse()

	switch {
	case *tmplPath != "":
		if *genDir != "" {
			loadGenerated(*genDir, d.GeneratedManifests)
		}
		tmpl, err := template.ParseFiles(*tmplPath)
		if err != nil {
			fail(err)
		}
		if err := tmpl.Execute(os.Stdout, d); err != nil {
			fail(err)
		}
	case *resourceType == "operator" && *resourceGroup == "everything":
		fmt.Print(operatorResources(d))
	case *resourceType != "":
		// Upstream has more groups (network policies, ...); the sample has none of them.
		fmt.Fprintf(os.Stderr, "manifest-generator: sample has no %s/%s resources\n", *resourceType, *resourceGroup)
	default:
		fail(fmt.Errorf("one of -template or -resource-type is required"))
	}
}

func loadGenerated(dir string, into map[string]string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		fail(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			fail(err)
		}
		into[e.Name()] = string(b)
	}
}

// operatorResources is the cdi-operator ServiceAccount and Deployment. The Deployment's
// environment tells the operator which image to run for every other component; upstream
// sets these variables in this order.
func operatorResources(d templateData) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("---")
	w("apiVersion: v1")
	w("kind: ServiceAccount")
	w("metadata:")
	w("  labels:")
	w("    operator.cdi.kubevirt.io: \"\"")
	w("  name: cdi-operator")
	w("  namespace: %s", d.Namespace)
	w("---")
	w("apiVersion: apps/v1")
	w("kind: Deployment")
	w("metadata:")
	w("  labels:")
	w("    cdi.kubevirt.io: cdi-operator")
	w("    name: cdi-operator")
	w("    operator.cdi.kubevirt.io: \"\"")
	w("  name: cdi-operator")
	w("  namespace: %s", d.Namespace)
	w("spec:")
	w("  replicas: 1")
	w("  selector:")
	w("    matchLabels:")
	w("      name: cdi-operator")
	w("  strategy: {}")
	w("  template:")
	w("    metadata:")
	w("      labels:")
	w("        cdi.kubevirt.io: cdi-operator")
	w("        name: cdi-operator")
	w("        operator.cdi.kubevirt.io: \"\"")
	w("    spec:")
	w("      containers:")
	w("      - env:")
	env := [][2]string{
		{"DEPLOY_CLUSTER_RESOURCES", d.DeployClusterResources},
		{"OPERATOR_VERSION", d.OperatorVersion},
		{"CONTROLLER_IMAGE", d.ControllerImage},
		{"IMPORTER_IMAGE", d.ImporterImage},
		{"CLONER_IMAGE", d.ClonerImage},
	}
	if d.OvirtPopulatorImage != "" {
		env = append(env, [2]string{"OVIRT_POPULATOR_IMAGE", d.OvirtPopulatorImage})
	}
	env = append(env,
		[2]string{"APISERVER_IMAGE", d.APIServerImage},
		[2]string{"UPLOAD_SERVER_IMAGE", d.UploadServerImage},
		[2]string{"UPLOAD_PROXY_IMAGE", d.UploadProxyImage},
		[2]string{"VERBOSITY", d.Verbosity},
		[2]string{"PULL_POLICY", d.PullPolicy},
	)
	for _, kv := range env {
		w("        - name: %s", kv[0])
		w("          value: %q", kv[1])
	}
	w("        image: %s", d.OperatorImage)
	w("        imagePullPolicy: %s", d.PullPolicy)
	w("        name: cdi-operator")
	w("        ports:")
	w("        - containerPort: 8080")
	w("          name: metrics")
	w("          protocol: TCP")
	w("        resources:")
	w("          requests:")
	w("            cpu: 100m")
	w("            memory: 150Mi")
	w("      serviceAccountName: cdi-operator")
	return b.String()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "manifest-generator:", err)
	os.Exit(1)
}
