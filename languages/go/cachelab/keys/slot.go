package keys

import "strings"

// Slot is the Redis Cluster slot of key: CRC16-XMODEM of its UTF-8 bytes modulo 16384, or of
// its hash tag (the part between the first '{' and the next '}', when not empty), as Redis
// computes it.
func Slot(key string) int {
	if start := strings.IndexByte(key, '{'); start >= 0 {
		if end := strings.IndexByte(key[start+1:], '}'); end > 0 {
			key = key[start+1 : start+1+end]
		}
	}
	return int(crc16(key) % Slots)
}

// crc16 is CRC16-XMODEM (polynomial 0x1021, initial 0), the checksum of Redis Cluster.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
