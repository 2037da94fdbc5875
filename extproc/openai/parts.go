package openai

import "github.com/iasolaris/tokengate/extproc/tokens"

// Content parts. Every part is priced one way or another, never at zero: its
// text or refusal as a text of its own, an image or audio clip as one Image,
// an uploaded file named by file_id as one File, and anything else by its
// bytes as Opaque. Only type, text, refusal and file are read; a part's
// other members are skipped, since providers render none of them.

// parts reads a content array.
func (p *chatParser) parts(mi int) error {
	s := &p.scanner
	more, err := s.enterArray(depthMessage + 1)
	for pi := 0; more && err == nil; pi++ {
		if s.peek() != '{' {
			return s.wrongType(depthMessage+1, loc{kind: locPart, mi: mi, sub: pi}, "an object")
		}
		if err = p.part(mi, pi); err != nil {
			return err
		}
		more, err = s.next(']')
	}
	return err
}

// Content part members read.
const (
	partType = iota
	partText
	partRefusal
	partKeys
)

// part reads one content part. Its text is held until the part ends
// because "type" may come after it.
func (p *chatParser) part(mi, pi int) error {
	s := &p.scanner
	start := s.pos
	var text, refusal tokens.Text
	var textSize, refusalSize int
	var hasText, hasRefusal bool
	var file fileRef
	kind := partOther
	var held [partKeys]error
	more, err := s.enterObject(depthPart)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return err
		}
		vs := s.pos
		switch string(key) {
		case "type":
			kind = partOther
			switch s.peek() {
			case '"':
				var typ []byte
				typ, err = s.name()
				kind = partKindOf(typ)
			case 'n':
				err = s.literal("null")
			default:
				err = s.wrongType(depthPart, loc{kind: locPart, mi: mi, sub: pi, leaf: ".type"}, "a string")
			}
			err = s.settle(err, vs, depthPart, &held[partType])
		case "text":
			hasText, textSize, err = s.text(true, depthPart, loc{kind: locPart, mi: mi, sub: pi, leaf: ".text"})
			text = s.piece
			err = s.settle(err, vs, depthPart, &held[partText])
		case "refusal":
			hasRefusal, refusalSize, err = s.text(true, depthPart, loc{kind: locPart, mi: mi, sub: pi, leaf: ".refusal"})
			refusal = s.piece
			err = s.settle(err, vs, depthPart, &held[partRefusal])
		case "file":
			file, err = s.fileRef(depthPart)
		default:
			err = s.skipValue(depthPart)
		}
		if err != nil {
			return err
		}
		more, err = s.next('}')
	}
	if err != nil {
		return err
	}
	if err := firstHeld(held[:]); err != nil {
		return err
	}
	// priced: the part costs something beyond its bytes being counted.
	priced := false
	switch kind {
	case partIsText:
		if hasText {
			p.msgs.Merge(text)
			priced = textSize > 0
		}
	case partIsRefusal:
		if hasRefusal {
			p.msgs.Merge(refusal)
			priced = refusalSize > 0
		}
	case partIsMedia:
		p.c.Images++
		priced = true
	case partIsFile:
		if file.id {
			p.c.Files++
			priced = !file.data
		}
	}
	if !priced {
		p.c.Opaque.Bytes += int64(s.pos - start)
	}
	return nil
}

// partKind is what a content part's type makes of it.
type partKind uint8

const (
	partOther partKind = iota // unknown, null or absent: priced by its bytes
	partIsText
	partIsRefusal
	partIsMedia // image_url, input_audio: counted, not tokenised
	partIsFile  // file: by file_id, or by its bytes when it carries the data
)

func partKindOf(typ []byte) partKind {
	switch string(typ) {
	case "text":
		return partIsText
	case "refusal":
		return partIsRefusal
	case "image_url", "input_audio":
		return partIsMedia
	case "file":
		return partIsFile
	}
	return partOther
}

// fileRef is what a file part's "file" object says about where the file is.
type fileRef struct {
	id   bool // file_id is a string: an uploaded file the request only names
	data bool // file_data is present and not null: the file is in the request
}

// fileRef reads a part's "file" member. Nothing in it is type-checked: a
// file_id that is not a string does not count as one, and a file_data of
// any type counts as data, so a malformed file part is priced by its bytes
// rather than refused (the upstream refuses it, or renders what it holds).
func (s *scanner) fileRef(depth int) (fileRef, error) {
	if s.peek() != '{' {
		return fileRef{}, s.skipValue(depth)
	}
	var f fileRef
	more, err := s.enterObject(depth + 1)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return fileRef{}, err
		}
		switch string(key) {
		case "file_id":
			f.id = s.peek() == '"'
		case "file_data":
			f.data = s.peek() != 'n'
		}
		if err = s.skipValue(depth + 1); err != nil {
			return fileRef{}, err
		}
		more, err = s.next('}')
	}
	return f, err
}
