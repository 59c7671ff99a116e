// CoreDNS for the local cluster with real nodes: the upstream server (coremain) with only the
// plugins its Corefile uses, so the build compiles the Kubernetes plugin's client and little else
// (the full plugin set pulls in every cloud provider's SDK). Plugins register themselves when
// imported; their order in a server block is CoreDNS's own (core/dnsserver/zdirectives.go).
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
