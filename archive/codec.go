package archive

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxImportBytes bounds what DecodeJSON and DecodeCSV read, so a runaway upload cannot
// exhaust memory: 64 MiB holds about 400,000 CSV meter rows.
const MaxImportBytes = 64 << 20

// CSVHeader is the column list of the meters CSV form, in the order EncodeCSV writes it.
var CSVHeader = []string{
	"address", "protocol", "kind", "terminal", "point", "port", "baud", "bus", "link",
	"modbus_endpoint", "modbus_unit", "modbus_model", "password_level", "password",
	"meter_number", "protected",
}

// DecodeJSON reads the JSON form of an archive and checks every field of every row, and
// duplicate keys. It does not check references between sections, because a merge may refer
// to terminals that only the current archive has: Merge, Replace and Validate do that. On
// any problem it returns a *ValidationError with all of them and no archive.
func DecodeJSON(r io.Reader) (*Archive, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("archive: read JSON: %w", err)
	}
	if len(data) > MaxImportBytes {
		return nil, tooLarge()
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")) // a BOM from some Windows editors
	var a Archive
	dec := json.NewDecoder(bytes.NewReader(data))
	// An unknown key is most often a misspelt one, such as "meter" for "meters" or
	// "pasword": ignoring it would import less than the caller sent.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var p problems
		p.add("archive", 0, "", "", "", "invalid JSON: data after the archive object")
		return nil, p.err()
	}
	a.numberRows()
	var p problems
	checkFields(&a, &p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &a, nil
}

// numberRows records each row's 1-based position in its section, which problems cite even
// after a merge.
func (a *Archive) numberRows() {
	for i := range a.Terminals {
		a.Terminals[i].row = i + 1
	}
	for i := range a.Buses {
		a.Buses[i].row = i + 1
	}
	for i := range a.Links {
		a.Links[i].row = i + 1
	}
	for i := range a.ModbusModels {
		a.ModbusModels[i].row = i + 1
	}
	for i := range a.Meters {
		a.Meters[i].row = i + 1
	}
}

func tooLarge() error {
	var p problems
	p.add("archive", 0, "", "", "", fmt.Sprintf("import larger than %d bytes; split it and merge the parts", MaxImportBytes))
	return p.err()
}

// jsonProblem turns a JSON syntax or type error into a ValidationError naming the field.
func jsonProblem(err error) error {
	var p problems
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		section, field, _ := strings.Cut(typeErr.Field, ".")
		p.add(section, 0, "", field, typeErr.Value,
			fmt.Sprintf("wrong JSON type at byte %d; want %s", typeErr.Offset, typeErr.Type))
	case errors.As(err, &syntaxErr):
		p.add("archive", 0, "", "", "", fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, err))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json gives the key but not its path.
		key := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p.add("archive", 0, "", key, "", "unknown field; check its spelling against the "+
			"archive format")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		p.add("archive", 0, "", "", "", "invalid JSON: empty or cut short")
	default:
		p.add("archive", 0, "", "", "", "invalid JSON: "+err.Error())
	}
	return p.err()
}

// EncodeJSON writes the JSON form of the archive, indented. It writes passwords if the
// archive has them: export through Redacted.
func EncodeJSON(w io.Writer, a *Archive) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(a)
}

// DecodeCSV reads the meters CSV form (CSVHeader; columns may come in any order, unknown
// columns are rejected) and checks every field. Rows in errors are file line numbers, the
// header being line 1. The result has only the Meters section set.
func DecodeCSV(r io.Reader) (*Archive, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("archive: read CSV: %w", err)
	}
	if len(data) > MaxImportBytes {
		return nil, tooLarge()
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")) // a BOM from spreadsheet exports

	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	var p problems
	header, err := cr.Read()
	if err != nil {
		p.add("meters", 1, "", "", "", "missing or unreadable CSV header: "+errText(err))
		return nil, p.err()
	}
	columns, ok := mapHeader(header, &p)
	if !ok {
		return nil, p.err()
	}

	a := &Archive{Meters: []Meter{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line := 0
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				line = perr.Line
			}
			p.add("meters", line, "", "", "", "unreadable CSV row: "+errText(err))
			if perr == nil {
				break
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ = cr.FieldPos(0)
		if len(rec) != len(header) {
			p.add("meters", line, "", "", strconv.Itoa(len(rec)),
				fmt.Sprintf("row has %d fields; the header has %d", len(rec), len(header)))
			continue
		}
		m := meterFromRecord(rec, columns, line, &p)
		a.Meters = append(a.Meters, m)
	}
	checkFields(a, &p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return a, nil
}

func errText(err error) string {
	if err == io.EOF {
		return "empty file"
	}
	return err.Error()
}

// mapHeader maps each known column name to its index and reports unknown and missing ones.
func mapHeader(header []string, p *problems) (map[string]int, bool) {
	known := map[string]bool{}
	for _, c := range CSVHeader {
		known[c] = true
	}
	columns := map[string]int{}
	ok := true
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case !known[name]:
			p.add("meters", 1, "", name, name, "unknown column; want the columns "+strings.Join(CSVHeader, ","))
			ok = false
		case hasKey(columns, name):
			p.add("meters", 1, "", name, name, "duplicate column")
			ok = false
		default:
			columns[name] = i
		}
	}
	for _, required := range []string{"address", "protocol"} {
		if !hasKey(columns, required) {
			p.add("meters", 1, "", required, "", "missing column")
			ok = false
		}
	}
	return columns, ok
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

// meterFromRecord builds a meter from one CSV record, reporting numbers that do not parse.
// Field values are checked afterwards by checkFields.
func meterFromRecord(rec []string, columns map[string]int, line int, p *problems) Meter {
	get := func(name string) string {
		if i, ok := columns[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	m := Meter{
		Address:     get("address"),
		Protocol:    get("protocol"),
		Kind:        get("kind"),
		MeterNumber: get("meter_number"),
		row:         line,
	}
	number := func(name string) int {
		s := get(name)
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			// A password column may hold the password after a column swap: describe the
			// value without copying it.
			value, reason := s, "not a whole number"
			if strings.HasPrefix(name, "password") {
				value = ""
				reason = fmt.Sprintf("not a whole number (%d characters)", len(s))
			}
			p.add("meters", line, m.Address, name, value, reason)
		}
		return n
	}
	switch s := strings.ToLower(get("protected")); s {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		m.Protected = true
	default:
		p.add("meters", line, m.Address, "protected", s, "want true or false")
	}
	if level, value := get("password_level"), get("password"); level != "" || value != "" {
		m.Password = &Password{Level: number("password_level"), Value: value}
		if level == "" {
			p.add("meters", line, m.Address, "password_level", "", "missing while password is set")
		}
	}
	m.Route = Route{
		Terminal: get("terminal"),
		Point:    number("point"),
		Port:     number("port"),
		Baud:     number("baud"),
		Bus:      get("bus"),
		Link:     get("link"),
	}
	if endpoint, unit, model := get("modbus_endpoint"), get("modbus_unit"), get("modbus_model"); endpoint != "" || unit != "" || model != "" {
		m.Route.Modbus = &ModbusRoute{Endpoint: endpoint, Unit: number("modbus_unit"), Model: model}
	}
	return m
}

// EncodeCSV writes the meters in the CSV form, with the header. It writes passwords if the
// meters have them: export through Redacted.
func EncodeCSV(w io.Writer, meters []Meter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	for _, m := range meters {
		r := m.Route
		rec := []string{
			m.Address, m.Protocol, m.Kind, r.Terminal, itoa(r.Point), itoa(r.Port),
			itoa(r.Baud), r.Bus, r.Link, "", "", "", "", "", m.MeterNumber,
			strconv.FormatBool(m.Protected),
		}
		if r.Modbus != nil {
			rec[9], rec[10], rec[11] = r.Modbus.Endpoint, strconv.Itoa(r.Modbus.Unit), r.Modbus.Model
		}
		if m.Password != nil {
			rec[12], rec[13] = strconv.Itoa(m.Password.Level), m.Password.Value
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
