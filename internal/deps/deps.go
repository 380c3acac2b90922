//go:build tools

// Package deps pins the chosen third-party modules in go.mod while the packages that use them
// are being written, so that go mod tidy keeps them. Remove an import once real code uses it.
package deps

import (
	_ "github.com/creack/pty"
	_ "github.com/goburrow/modbus"
	_ "github.com/goburrow/serial"
	_ "github.com/google/gopacket/pcapgo"
	_ "github.com/panjf2000/gnet/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/simonvetter/modbus"
	_ "go.bug.st/serial"
	_ "go.etcd.io/bbolt"
	_ "go.uber.org/goleak"
	_ "go.uber.org/zap"
	_ "gopkg.in/yaml.v3"
)
