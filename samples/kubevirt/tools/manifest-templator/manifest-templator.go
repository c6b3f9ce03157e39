// Command manifest-templator renders the sample's manifest templates. It takes the flags of
// upstream KubeVirt's templator that hack/build-manifests.sh passes and runs in the same two
// passes: --process-files inlines manifests/generated/* and leaves every variable as a
// "{{.Name}}" placeholder; --process-vars fills the variables, including the virt-operator
// Deployment spec that names the operator image and carries the operator's environment.
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
	DockerTag              string
	DockerPrefix           string
	ImagePrefix            string
	ImagePullPolicy        string
	Verbosity              string
	CsvVersion             string
	OperatorDeploymentSpec string
	GeneratedManifests     map[string]string
}

// operatorEnv lists the optional image overrides in upstream's order, flag -> env var.
var operatorEnv = []struct{ flag, env string }{
	{"virt-api-image", "VIRT_API_IMAGE"},
	{"virt-controller-image", "VIRT_CONTROLLER_IMAGE"},
	{"virt-handler-image", "VIRT_HANDLER_IMAGE"},
	{"virt-launcher-image", "VIRT_LAUNCHER_IMAGE"},
	{"virt-export-proxy-image", "VIRT_EXPORTPROXY_IMAGE"},
	{"virt-export-server-image", "VIRT_EXPORTSERVER_IMAGE"},
	{"virt-synchronization-controller-image", "VIRT_SYNCHRONIZATIONCONTROLLER_IMAGE"},
	{"gs-image", "GS_IMAGE"},
	{"runbook-url-template", "RUNBOOK_URL_TEMPLATE"},
	{"pr-helper-image", "PR_HELPER_IMAGE"},
	{"sidecar-shim-image", "SIDECAR_SHIM_IMAGE"},
}

func main() {
	namespace := flag.String("namespace", "", "")
	dockerPrefix := flag.String("container-prefix", "", "")
	dockerTag := flag.String("container-tag", "", "")
	imagePrefix := flag.String("image-prefix", "", "")
	pullPolicy := flag.String("image-pull-policy", "IfNotPresent", "")
	verbosity := flag.String("verbosity", "2", "")
	csvVersion := flag.String("csv-version", "", "")
	genDir := flag.String("generated-manifests-dir", "", "")
	inputFile := flag.String("input-file", "", "")
	processFiles := flag.Bool("process-files", false, "")
	processVars := flag.Bool("process-vars", false, "")
	operatorImage := flag.String("virt-operator-image", "", "custom image for virt-operator")
	overrides := map[string]*string{}
	for _, o := range operatorEnv {
		overrides[o.flag] = flag.String(o.flag, "", "")
	}
	// Upstream's flags that only concern OLM and test manifests, which the sample lacks.
	for _, name := range []string{"cdi-namespace", "csv-namespace", "bundle-out-dir",
		"feature-gates", "kubevirt-logo-path", "package-name", "quay-repository",
		"infra-replicas", "test-image-replicas", "hypervisor"} {
		flag.String(name, "", "accepted for compatibility; unused by the sample")
	}
	flag.Parse()

	if !*processFiles && !*processVars {
		fail("at least one of --process-files or --process-vars is required")
	}
	data := templateData{GeneratedManifests: map[string]string{}}
	if *processVars {
		data.Namespace = *namespace
		data.DockerPrefix = *dockerPrefix
		data.DockerTag = *dockerTag
		data.ImagePrefix = *imagePrefix
		data.ImagePullPolicy = *pullPolicy
		data.Verbosity = fmt.Sprintf("%q", *verbosity)
		data.CsvVersion = *csvVersion
		image := *operatorImage
		if image == "" {
			image = fmt.Sprintf("%s/%svirt-operator:%s", *dockerPrefix, *imagePrefix, *dockerTag)
		}
		env := [][2]string{}
		for _, o := range operatorEnv {
			if v := *overrides[o.flag]; v != "" {
				env = append(env, [2]string{o.env, v})
			}
		}
		if *dockerTag != "" {
			env = append(env, [2]string{"KUBEVIRT_VERSION", *dockerTag})
		}
		data.OperatorDeploymentSpec = operatorSpec(image, *pullPolicy, *verbosity, env)
	} else {
		data = templateData{
			Namespace:              "{{.Namespace}}",
			DockerTag:              "{{.DockerTag}}",
			DockerPrefix:           "{{.DockerPrefix}}",
			ImagePrefix:            "{{.ImagePrefix}}",
			ImagePullPolicy:        "{{.ImagePullPolicy}}",
			Verbosity:              "{{.Verbosity}}",
			CsvVersion:             "{{.CsvVersion}}",
			OperatorDeploymentSpec: "{{.OperatorDeploymentSpec}}",
			GeneratedManifests:     data.GeneratedManifests,
		}
	}
	if *processFiles {
		entries, err := os.ReadDir(*genDir)
		if err != nil {
			fail(err.Error())
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(*genDir, e.Name()))
			if err != nil {
				fail(err.Error())
			}
			data.GeneratedManifests[e.Name()] = string(b)
		}
	}
	tmpl, err := template.ParseFiles(*inputFile)
	if err != nil {
		fail(err.Error())
	}
	if err := tmpl.Execute(os.Stdout, data); err != nil {
		fail(err.Error())
	}
}

// operatorSpec is the virt-operator Deployment's spec, indented to sit under "spec:".
func operatorSpec(image, pullPolicy, verbosity string, env [][2]string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("  replicas: 2")
	w("  selector:")
	w("    matchLabels:")
	w("      kubevirt.io: virt-operator")
	w("  strategy:")
	w("    type: RollingUpdate")
	w("  template:")
	w("    metadata:")
	w("      labels:")
	w("        kubevirt.io: virt-operator")
	w("        name: virt-operator")
	w("      name: virt-operator")
	w("    spec:")
	w("      containers:")
	w("      - args:")
	w("        - --port")
	w("        - \"8443\"")
	w("        - -v")
	w("        - %q", verbosity)
	w("        command:")
	w("        - virt-operator")
	w("        env:")
	w("        - name: VIRT_OPERATOR_IMAGE")
	w("          value: %s", image)
	w("        - name: WATCH_NAMESPACE")
	w("          valueFrom:")
	w("            fieldRef:")
	w("              fieldPath: metadata.annotations['olm.targetNamespaces']")
	for _, kv := range env {
		w("        - name: %s", kv[0])
		w("          value: %s", kv[1])
	}
	w("        image: %s", image)
	w("        imagePullPolicy: %s", pullPolicy)
	w("        name: virt-operator")
	w("        ports:")
	w("        - containerPort: 8443")
	w("          name: metrics")
	w("          protocol: TCP")
	w("      priorityClassName: kubevirt-cluster-critical")
	w("      serviceAccountName: kubevirt-operator")
	return strings.TrimRight(b.String(), "\n")
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "manifest-templator:", msg)
	os.Exit(1)
}
