package archive

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is the sentinel every archive validation error matches with errors.Is.
var ErrInvalid = errors.New("archive: invalid")

// FieldError is one problem in an archive: which row, which field, the offending value and
// why it is rejected.
type FieldError struct {
	// Section is "terminals", "buses", "links", "modbus_models" or "meters".
	Section string
	// Row is the 1-based position in the section for JSON, or the line number of the CSV
	// file (the header is line 1); 0 when the row is not known.
	Row int
	// Key is the row's key (address or name) when it has one.
	Key string
	// Field is the JSON path inside the row (route.point) or the CSV column.
	Field string
	// Value is the offending value as text; password values are never copied here.
	Value string
	// Reason is what is wrong and what is expected.
	Reason string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Section)
	if e.Row > 0 {
		fmt.Fprintf(&b, " row %d", e.Row)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, " (%s)", e.Key)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " field %s", e.Field)
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	if e.Value != "" {
		fmt.Fprintf(&b, " (value %q)", e.Value)
	}
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// ValidationError is every problem found in one archive or import. An import with any
// problem is rejected as a whole.
type ValidationError struct {
	Problems []*FieldError
}

// maxListed bounds the problems written into the message; Problems keeps all of them.
const maxListed = 20

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "archive: %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-maxListed)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns every problem, so errors.As finds the first *FieldError and errors.Is
// matches ErrInvalid.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems collects FieldErrors while a reader or a validator walks an archive.
type problems struct {
	list []*FieldError
}

func (p *problems) add(section string, row int, key, field, value, reason string) {
	p.list = append(p.list, &FieldError{
		Section: section, Row: row, Key: key, Field: field, Value: value, Reason: reason,
	})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.list}
}
