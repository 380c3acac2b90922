package protocol

// IsBCD reports whether b holds two decimal digits.
func IsBCD(b byte) bool { return b>>4 <= 9 && b&0x0F <= 9 }

// FromBCD returns the value 0–99 of the BCD byte b.
func FromBCD(b byte) (int, error) {
	if !IsBCD(b) {
		return 0, Errorf(ErrInvalidBCD, -1, int64(b), "byte")
	}
	return int(b>>4)*10 + int(b&0x0F), nil
}

// ToBCD returns the BCD byte of v, which must be 0–99.
func ToBCD(v int) byte { return byte(v/10%10)<<4 | byte(v%10) }

// DecodeBCD returns the decimal value of the BCD digits in b, low byte first as both
// DL/T 645 and Q/GDW 376.1 send them. At most 9 bytes (18 digits) fit in a uint64.
func DecodeBCD(b []byte) (uint64, error) {
	if len(b) > 9 {
		return 0, Errorf(ErrBadLength, -1, int64(len(b)), "BCD field longer than 9 bytes")
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		if !IsBCD(b[i]) {
			return 0, Errorf(ErrInvalidBCD, i, int64(b[i]), "byte %d of a %d-byte BCD field", i, len(b))
		}
		v = v*100 + uint64(b[i]>>4)*10 + uint64(b[i]&0x0F)
	}
	return v, nil
}

// EncodeBCD writes v as len(dst) BCD bytes, low byte first. It fails when v needs more
// digits than dst holds.
func EncodeBCD(dst []byte, v uint64) error {
	orig := v
	for i := range dst {
		dst[i] = byte(v%100/10)<<4 | byte(v%10)
		v /= 100
	}
	if v != 0 {
		return Errorf(ErrInvalidValue, -1, int64(orig), "value needs more than %d BCD digits", 2*len(dst))
	}
	return nil
}
