package archive

import (
	"errors"
	"strings"
	"testing"
)

// TestImportErrorsKeepPasswordOut imports rows whose password sits in the wrong column or
// field, as a spreadsheet with swapped columns makes them. The import must fail, name the
// row and field, and never copy the password into the error.
func TestImportErrorsKeepPasswordOut(t *testing.T) {
	const secret = "9E7C5A"
	csvHeader := "address,protocol,kind,bus,password_level,password\n"
	jsonRow := func(password string) string {
		return `{"meters": [{"address": "000000000001", "protocol": "dlt645-2007", ` +
			`"kind": "plain", "route": {"bus": "b1"}, "password": ` + password + `}]}`
	}
	cases := []struct {
		name   string
		decode func() error
		field  string
	}{
		{"CSV columns swapped", func() error {
			_, err := DecodeCSV(strings.NewReader(csvHeader +
				"000000000001,dlt645-2007,plain,b1," + secret + ",2\n"))
			return err
		}, "password_level"},
		{"CSV digits-only password as level", func() error {
			_, err := DecodeCSV(strings.NewReader(csvHeader +
				"000000000001,dlt645-2007,plain,b1,975312,975312\n"))
			return err
		}, "password.level"},
		{"JSON password as level", func() error {
			_, err := DecodeJSON(strings.NewReader(jsonRow(
				`{"level": 975312, "value": "975312"}`)))
			return err
		}, "password.level"},
	}
	for _, tc := range cases {
		err := tc.decode()
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: err = %v, want a *ValidationError", tc.name, err)
		}
		for _, leaked := range []string{secret, "975312"} {
			if strings.Contains(err.Error(), leaked) {
				t.Errorf("%s: error %q carries the password", tc.name, err)
			}
		}
		found := false
		for _, p := range ve.Problems {
			if p.Field == tc.field && p.Row > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no problem names field %s and a row: %v", tc.name, tc.field, err)
		}
	}
}

// TestDecodeJSONRejectsUnknownKeys checks that a misspelt key fails the import instead of
// dropping what it carried: "meter" would otherwise replace the archive with an empty one.
func TestDecodeJSONRejectsUnknownKeys(t *testing.T) {
	cases := []struct {
		name, in, field string
	}{
		{"section", `{"meter": [{"address": "000000000001"}]}`, "meter"},
		{"meter field", `{"meters": [{"address": "000000000001", "pasword": ` +
			`{"level": 2, "value": "123456"}}]}`, "pasword"},
		{"route field", `{"meters": [{"address": "000000000001", "route": {"buss": "b1"}}]}`,
			"buss"},
	}
	for _, tc := range cases {
		_, err := DecodeJSON(strings.NewReader(tc.in))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: err = %v, want a *FieldError", tc.name, err)
		}
		if fe.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, fe.Field, tc.field)
		}
	}
	for _, in := range []string{``, `{"meters": [`, `{"meters": []} {"meters": []}`} {
		if _, err := DecodeJSON(strings.NewReader(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("input %q: err = %v, want ErrInvalid", in, err)
		}
	}
}

// TestDecodeJSONAcceptsBOM decodes an archive saved with a UTF-8 byte order mark, as some
// Windows editors write it, and with CRLF line ends.
func TestDecodeJSONAcceptsBOM(t *testing.T) {
	in := "\xEF\xBB\xBF{\r\n  \"terminals\": [{\"address\": \"44010001\", \"kind\": " +
		"\"concentrator\"}]\r\n}\r\n"
	a, err := DecodeJSON(strings.NewReader(in))
	if err != nil {
		t.Fatalf("archive with a BOM: %v", err)
	}
	if len(a.Terminals) != 1 || a.Terminals[0].Address != "44010001" {
		t.Fatalf("terminals %+v, want 44010001", a.Terminals)
	}
}
