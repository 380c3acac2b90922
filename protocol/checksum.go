package protocol

// Sum8 returns the arithmetic sum of b modulo 256, the checksum of both DL/T 645 and
// Q/GDW 376.1 frames.
func Sum8(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}
