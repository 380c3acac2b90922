package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol/capture"
	"github.com/feegate/feegate/protocol/capture/capturetest"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

var (
	terminal = netip.MustParseAddrPort("10.1.2.3:4097")
	master   = netip.MustParseAddrPort("10.9.8.7:10000")
	t0       = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
)

// streams collects what Walk delivers, per direction.
type streams struct {
	data   map[capture.Flow][]byte
	ends   map[capture.Flow]string
	gaps   map[capture.Flow]int64
	conns  map[capture.Flow]int
	chunks []capture.Chunk
}

func walk(t *testing.T, file []byte) (streams, capture.Summary) {
	t.Helper()
	r, err := capture.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	s := streams{data: map[capture.Flow][]byte{}, ends: map[capture.Flow]string{},
		gaps: map[capture.Flow]int64{}, conns: map[capture.Flow]int{}}
	type key struct {
		flow capture.Flow
		conn int
	}
	delivered := map[key]int64{}
	sum, err := capture.Walk(r, func(c capture.Chunk) error {
		c.Data = append([]byte(nil), c.Data...)
		s.chunks = append(s.chunks, c)
		s.conns[c.Flow] = c.Conn
		switch c.Kind {
		case capture.KindData:
			k := key{c.Flow, c.Conn}
			if delivered[k] != c.Offset {
				t.Errorf("%v: chunk offset %d after %d bytes", c.Flow, c.Offset, delivered[k])
			}
			delivered[k] = c.Offset + int64(len(c.Data))
			s.data[c.Flow] = append(s.data[c.Flow], c.Data...)
		case capture.KindGap:
			s.gaps[c.Flow] += c.Gap
			delivered[key{c.Flow, c.Conn}] += c.Gap
		case capture.KindEnd:
			s.ends[c.Flow] = c.Reason
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return s, sum
}

func up(c *capturetest.Conn) capture.Flow   { return capture.Flow{Src: c.Client, Dst: c.Server} }
func down(c *capturetest.Conn) capture.Flow { return capture.Flow{Src: c.Server, Dst: c.Client} }

func TestReassembleSplitRetransmitReorder(t *testing.T) {
	var file bytes.Buffer
	w, err := capturetest.NewWriter(&file)
	if err != nil {
		t.Fatal(err)
	}
	c := capturetest.NewConn(w, terminal, master, 0xFFFFFFF0, 1000) // client seq wraps
	must(t, c.Handshake(t0))
	first := []byte("0123456789")
	second := []byte("abcdefghij")
	seq1 := c.Seq[0]
	c.Skip(true, len(first))
	// The second half arrives first, then the first half, then the first half again.
	_, err = c.Send(t0.Add(1*time.Second), true, second)
	must(t, err)
	must(t, c.SendAt(t0.Add(2*time.Second), true, seq1, first))
	must(t, c.SendAt(t0.Add(3*time.Second), true, seq1, first))
	// An overlapping retransmission: the last 5 bytes again plus 5 new ones.
	tail := []byte("fghijKLMNO")
	must(t, c.SendAt(t0.Add(4*time.Second), true, c.Seq[0]-5, tail))
	c.Seq[0] += 5
	_, err = c.Send(t0.Add(5*time.Second), false, []byte("reply"))
	must(t, err)
	must(t, c.Close(t0.Add(6*time.Second)))
	must(t, w.Flush())

	s, sum := walk(t, file.Bytes())
	if got, want := string(s.data[up(c)]), "0123456789abcdefghijKLMNO"; got != want {
		t.Errorf("uplink bytes = %q, want %q", got, want)
	}
	if got := string(s.data[down(c)]); got != "reply" {
		t.Errorf("downlink bytes = %q, want %q", got, "reply")
	}
	if s.ends[up(c)] != capture.EndFIN || s.ends[down(c)] != capture.EndFIN {
		t.Errorf("ends = %v, want fin for both directions", s.ends)
	}
	if s.conns[up(c)] != 1 || s.conns[down(c)] != 1 {
		t.Errorf("connection numbers = %v, want 1 for both directions", s.conns)
	}
	if sum.Assembly.OutOfOrder != 1 {
		t.Errorf("out-of-order segments = %d, want 1", sum.Assembly.OutOfOrder)
	}
	if sum.Assembly.Retransmitted != 1 {
		t.Errorf("whole retransmissions = %d, want 1", sum.Assembly.Retransmitted)
	}
	if sum.Assembly.RetransmitBytes != 15 {
		t.Errorf("retransmitted bytes = %d, want 15", sum.Assembly.RetransmitBytes)
	}
	if sum.Assembly.GapBytes != 0 {
		t.Errorf("gap bytes = %d, want 0", sum.Assembly.GapBytes)
	}
	// The held second half is delivered with the time of the packet that filled the hole.
	var firstData *capture.Chunk
	for i := range s.chunks {
		if s.chunks[i].Kind == capture.KindData {
			firstData = &s.chunks[i]
			break
		}
	}
	if firstData == nil || !firstData.Time.Equal(t0.Add(2*time.Second)) {
		t.Errorf("first data chunk = %+v, want time %v", firstData, t0.Add(2*time.Second))
	}
}

func TestReassembleReportsGap(t *testing.T) {
	var file bytes.Buffer
	w, err := capturetest.NewWriter(&file)
	must(t, err)
	c := capturetest.NewConn(w, terminal, master, 100, 200)
	must(t, c.Handshake(t0))
	_, err = c.Send(t0, true, []byte("before"))
	must(t, err)
	c.Skip(true, 7)
	_, err = c.Send(t0.Add(time.Second), true, []byte("after"))
	must(t, err)
	must(t, w.Flush()) // no FIN: the capture ends with the connection open

	s, sum := walk(t, file.Bytes())
	if got := string(s.data[up(c)]); got != "beforeafter" {
		t.Errorf("uplink bytes = %q, want %q", got, "beforeafter")
	}
	if s.gaps[up(c)] != 7 {
		t.Errorf("gap = %d bytes, want 7", s.gaps[up(c)])
	}
	if sum.Assembly.GapBytes != 7 {
		t.Errorf("summary gap bytes = %d, want 7", sum.Assembly.GapBytes)
	}
	if s.ends[up(c)] != capture.EndCaptureEnd {
		t.Errorf("uplink end = %q, want %q", s.ends[up(c)], capture.EndCaptureEnd)
	}
	for _, ch := range s.chunks {
		if ch.Kind == capture.KindEnd && ch.Flow == up(c) && !ch.Time.Equal(t0.Add(time.Second)) {
			t.Errorf("capture-end time = %v, want the last segment's %v", ch.Time,
				t0.Add(time.Second))
		}
	}
}

func TestReassembleIPv6AndNewConnection(t *testing.T) {
	var file bytes.Buffer
	w, err := capturetest.NewWriter(&file)
	must(t, err)
	client := netip.MustParseAddrPort("[fd00::1]:4098")
	server := netip.MustParseAddrPort("[fd00::2]:10000")
	c := capturetest.NewConn(w, client, server, 1, 2)
	must(t, c.Handshake(t0))
	_, err = c.Send(t0, true, []byte("old"))
	must(t, err)
	// The terminal reconnects from the same port without closing the old connection.
	c2 := capturetest.NewConn(w, client, server, 5000, 6000)
	must(t, c2.Handshake(t0.Add(time.Second)))
	_, err = c2.Send(t0.Add(time.Second), true, []byte("new"))
	must(t, err)
	must(t, w.Flush())

	s, _ := walk(t, file.Bytes())
	var conns []int
	var payloads []string
	for _, ch := range s.chunks {
		if ch.Kind == capture.KindData {
			conns = append(conns, ch.Conn)
			payloads = append(payloads, string(ch.Data))
		}
	}
	if len(payloads) != 2 || payloads[0] != "old" || payloads[1] != "new" {
		t.Fatalf("payloads = %q, want [old new]", payloads)
	}
	if conns[0] == conns[1] {
		t.Errorf("both connections numbered %d, want distinct numbers", conns[0])
	}
	if got := up(c).Src.String(); got != "[fd00::1]:4098" {
		t.Errorf("source = %s", got)
	}
}

func TestReadClassicPcapRawIP(t *testing.T) {
	var file bytes.Buffer
	pw := pcapgo.NewWriter(&file)
	must(t, pw.WriteFileHeader(65535, layers.LinkTypeRaw))
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: terminal.Addr().AsSlice(), DstIP: master.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: 4097, DstPort: 10000, Seq: 7, ACK: true, PSH: true}
	must(t, tcp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	must(t, gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload("raw ip")))
	data := buf.Bytes()
	must(t, pw.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(data),
		Length: len(data)}, data))

	r, err := capture.NewReader(bytes.NewReader(file.Bytes()))
	must(t, err)
	if r.Format() != capture.FormatPcap {
		t.Errorf("format = %v, want pcap", r.Format())
	}
	s, _ := walk(t, file.Bytes())
	flow := capture.Flow{Src: terminal, Dst: master}
	if got := string(s.data[flow]); got != "raw ip" {
		t.Errorf("bytes = %q, want %q", got, "raw ip")
	}
}

func TestNewReaderRejectsGarbage(t *testing.T) {
	cases := map[string][]byte{
		"empty":        nil,
		"text":         []byte("not a capture at all"),
		"ng bad order": {0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 1, 2, 3, 4},
		"ng huge caplen": append(
			pcapngHeader(), 6, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 32, 0, 0, 0),
	}
	for name, file := range cases {
		_, err := capture.NewReader(bytes.NewReader(file))
		if !errors.Is(err, capture.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// pcapngHeader returns a little-endian section header block of 28 bytes.
func pcapngHeader() []byte {
	return []byte{0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 28, 0, 0, 0}
}

// TestReadCapturesFolder reads every capture in the folder named by FEEGATE_CAPTURES.
func TestReadCapturesFolder(t *testing.T) {
	dir := os.Getenv("FEEGATE_CAPTURES")
	if dir == "" {
		t.Skip("FEEGATE_CAPTURES is not set")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	must(t, err)
	if len(files) == 0 {
		t.Fatalf("no pcap or pcapng files in %s", dir)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			must(t, err)
			s, sum := walk(t, raw)
			if sum.Packets == 0 {
				t.Fatal("no packets read")
			}
			total := 0
			for _, d := range s.data {
				total += len(d)
			}
			if total == 0 {
				t.Errorf("no TCP payload in %d packets", sum.Packets)
			}
			t.Logf("%d packets, %d directions, %d payload bytes, %+v",
				sum.Packets, len(s.data), total, sum.Assembly)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadSkipsLargeNonPacketBlock(t *testing.T) {
	var file bytes.Buffer
	w, err := capturetest.NewWriter(&file)
	must(t, err)
	c := capturetest.NewConn(w, terminal, master, 1, 1)
	must(t, c.Handshake(t0))
	_, err = c.Send(t0, true, []byte("after the big block"))
	must(t, err)
	must(t, w.Flush())

	// Insert a 400 KB custom block after the section header and interface description.
	raw := file.Bytes()
	shb := binary.LittleEndian.Uint32(raw[4:8])
	idb := binary.LittleEndian.Uint32(raw[shb+4 : shb+8])
	at := int(shb + idb)
	const size = 400 << 10
	block := make([]byte, size)
	binary.LittleEndian.PutUint32(block[0:4], 0x00000BAD)
	binary.LittleEndian.PutUint32(block[4:8], size)
	binary.LittleEndian.PutUint32(block[size-4:], size)
	withBlock := append(append(append([]byte(nil), raw[:at]...), block...), raw[at:]...)

	s, _ := walk(t, withBlock)
	got := string(s.data[capture.Flow{Src: terminal, Dst: master}])
	if got != "after the big block" {
		t.Errorf("bytes = %q, want the payload after the custom block", got)
	}
}

func TestReadLinkTypes(t *testing.T) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: terminal.Addr().AsSlice(), DstIP: master.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: 4097, DstPort: 10000, Seq: 7, ACK: true, PSH: true}
	must(t, tcp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	must(t, gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload("linked")))
	datagram := buf.Bytes()

	// Linux cooked header: packet type, ARPHRD, address length, 8 address bytes, protocol.
	sll := []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}
	// BSD loopback header: the address family AF_INET in host (here little-endian) order.
	null := []byte{2, 0, 0, 0}
	cases := []struct {
		name   string
		link   layers.LinkType
		header []byte
	}{
		{"linux sll", layers.LinkTypeLinuxSLL, sll},
		{"bsd loopback", layers.LinkTypeNull, null},
		{"raw", layers.LinkTypeRaw, nil},
	}
	for _, c := range cases {
		var file bytes.Buffer
		pw := pcapgo.NewWriter(&file)
		must(t, pw.WriteFileHeader(65535, c.link))
		data := append(append([]byte(nil), c.header...), datagram...)
		must(t, pw.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(data),
			Length: len(data)}, data))
		s, sum := walk(t, file.Bytes())
		flow := capture.Flow{Src: terminal, Dst: master}
		if got := string(s.data[flow]); got != "linked" {
			t.Errorf("%s: bytes = %q, want %q (summary %+v)", c.name, got, "linked", sum)
		}
	}
}
