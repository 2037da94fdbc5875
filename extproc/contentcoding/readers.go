package contentcoding

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"

	"github.com/andybalholm/brotli"
)

// open stacks one decompressor per coding over src, the last applied
// reading src and the first applied giving the decoded body. Each
// decompressor that starts with a header reads it here, so open may wait
// for input like any read.
func open(codings []Coding, src io.Reader) (io.Reader, error) {
	r := src
	for i := len(codings) - 1; i >= 0; i-- {
		var err error
		switch codings[i] {
		case Gzip:
			r, err = gzip.NewReader(r) // reads every member: servers may concatenate them
		case Deflate:
			r, err = newDeflate(r)
		case Brotli:
			r = brotli.NewReader(r)
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// newDeflate reads "deflate" as RFC 9110 defines it, zlib, unless the first
// two bytes are not a zlib header: then the body is the raw deflate stream
// some servers send under that name. A raw stream could begin with a valid
// zlib header only by starting with a stored block whose padding bits
// happen to match a header checksum, which encoders do not write.
func newDeflate(r io.Reader) (io.Reader, error) {
	br := byteReader(r)
	var head [2]byte
	for i := range head {
		b, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		head[i] = b
	}
	rest := &prefixed{head: head[:], r: br}
	if isZlibHeader(head) {
		return zlib.NewReader(rest)
	}
	return flate.NewReader(rest), nil
}

// isZlibHeader checks RFC 1950's CMF and FLG bytes: method 8 (deflate), a
// window of at most 32 KiB, and the check bits that make CMF·256+FLG a
// multiple of 31.
func isZlibHeader(h [2]byte) bool {
	cmf, flg := h[0], h[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

// byteReader gives flate an io.ByteReader; without one it would wrap r in
// a buffer of its own.
func byteReader(r io.Reader) flate.Reader {
	if br, ok := r.(flate.Reader); ok {
		return br
	}
	return bufio.NewReader(r)
}

// prefixed reads head, then r: the bytes newDeflate looked at go back in
// front of the stream.
type prefixed struct {
	head []byte
	r    flate.Reader
}

// Read implements [io.Reader].
func (p *prefixed) Read(b []byte) (int, error) {
	if len(p.head) == 0 {
		return p.r.Read(b)
	}
	n := copy(b, p.head)
	p.head = p.head[n:]
	return n, nil
}

// ReadByte implements [io.ByteReader].
func (p *prefixed) ReadByte() (byte, error) {
	if len(p.head) == 0 {
		return p.r.ReadByte()
	}
	c := p.head[0]
	p.head = p.head[1:]
	return c, nil
}
