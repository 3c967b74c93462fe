// SPDX-License-Identifier: GPL-3.0-or-later

// The lab's pause image: the process that holds a pod's namespaces. It sleeps
// until told to stop, as registry.k8s.io/pause does.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
