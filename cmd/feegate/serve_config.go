package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/feegate/feegate/api/node"
	"gopkg.in/yaml.v3"
)

// noTokenError is an API listen address beyond loopback with no bearer token configured.
// It matches node.ErrNoToken with errors.Is.
type noTokenError struct {
	Listen string
}

func (e *noTokenError) Error() string {
	return fmt.Sprintf("the API listen address %s is not loopback and no API token is set: "+
		"give --token TOKEN or FEEGATE_TOKEN (or tokens in the --config file), or listen on "+
		"a loopback address such as 127.0.0.1:8080", e.Listen)
}

func (e *noTokenError) Unwrap() error { return node.ErrNoToken }

// checkAPIExposure rejects a configuration whose API would accept requests from other hosts
// without a token, before anything starts.
func checkAPIExposure(cfg node.Config) error {
	for _, t := range cfg.Tokens {
		if t != "" {
			return nil
		}
	}
	if !node.IsLoopback(cfg.APIListen) {
		return &noTokenError{Listen: cfg.APIListen}
	}
	return nil
}

// configKeyError is a key of the serve configuration file that no option has.
type configKeyError struct {
	File    string
	Line    int
	Key     string
	Section string   // dotted path of the mapping that contains the key, "" at the top
	Known   []string // keys valid in that mapping
}

func (e *configKeyError) Error() string {
	where := "at the top level"
	if e.Section != "" {
		where = "under " + e.Section
	}
	msg := fmt.Sprintf("config %s line %d: unknown key %q %s", e.File, e.Line, e.Key, where)
	if len(e.Known) > 0 {
		msg += "; valid keys there: " + strings.Join(e.Known, ", ")
	}
	return msg
}

// unknownFieldLine matches one message of yaml.v3 about a key that has no struct field.
var unknownFieldLine = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)

// describeConfigError rewrites a decoding error of the serve configuration file in terms of
// the file's keys. yaml.v3 names Go types ("main.serveFile"), which mean nothing to the
// reader of the file.
func describeConfigError(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	sections := configSections()
	var errs []error
	for _, msg := range te.Errors {
		if m := unknownFieldLine.FindStringSubmatch(msg); m != nil {
			e := &configKeyError{File: path, Key: m[2]}
			fmt.Sscan(m[1], &e.Line)
			if s, ok := sections[m[3]]; ok {
				e.Section, e.Known = s.path, s.keys
			}
			errs = append(errs, e)
			continue
		}
		msg = strings.ReplaceAll(msg, "into time.Duration",
			"into a duration (write it as 30s, 5m or 1h)")
		errs = append(errs, fmt.Errorf("config %s %s", path, msg))
	}
	return errors.Join(errs...)
}

// configSection is one mapping of the configuration file: its dotted path and valid keys.
type configSection struct {
	path string
	keys []string
}

// configSections returns the mappings of the configuration file by the Go type name that
// yaml.v3 reports for them.
func configSections() map[string]configSection {
	out := map[string]configSection{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) {
			return
		}
		if _, seen := out[t.String()]; seen {
			return
		}
		var keys []string
		out[t.String()] = configSection{path: path}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			keys = append(keys, key)
			child := key
			if path != "" {
				child = path + "." + key
			}
			walk(f.Type, child)
		}
		sort.Strings(keys)
		out[t.String()] = configSection{path: path, keys: keys}
	}
	walk(reflect.TypeOf(serveFile{}), "")
	return out
}
