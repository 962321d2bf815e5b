/**
 * Tokenisation for a bundle: its tokenizer.json run by @huggingface/tokenizers, plus what that
 * library does not do and the bundle contract needs:
 *
 * - character offsets: the library returns ids only; here the text is split on added tokens,
 *   normalised one character cluster at a time (so every normalised character knows the original
 *   characters it came from), pre-tokenised and run through the model word by word, the way the
 *   Rust `tokenizers` crate does it. Offsets are JavaScript string indices (UTF-16 code units), so
 *   `text.slice(start, end)` is the original text of a token or word. (Python's `tokenizers`
 *   reports code points, the Rust crate bytes.)
 * - truncation to max_length: the library ignores tokenizer.json's truncation section, so the
 *   content is cut here to max_length minus the special tokens, as the Python runtime's tokenizer does.
 * - padding: per batch, with the pad id of tokenizer.json's padding section (toArrays).
 */

import { Tokenizer } from '@huggingface/tokenizers';
import { BundleError } from './errors.js';

const MARK = /^\p{M}$/u;

/** Split a string into clusters: a code point with the combining marks that follow it, with UTF-16 offsets. */
function clusters(text) {
  const out = [];
  let i = 0;
  for (const ch of text) {
    if (out.length && MARK.test(ch)) {
      const last = out[out.length - 1];
      last.text += ch;
      last.end += ch.length;
      last.points += 1;
    } else {
      out.push({ text: ch, start: i, end: i + ch.length, points: 1 });
    }
    i += ch.length;
  }
  return out;
}

/** GPT-2's byte <-> printable character table, used by ByteLevel pre-tokenizers. */
function byteLevelDecoder() {
  const bytes = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  const map = new Map();
  bytes.forEach((b, k) => map.set(String.fromCodePoint(chars[k]), b));
  return map;
}

function preTokenizerTypes(config) {
  if (!config) return [];
  if (config.type === 'Sequence') return (config.pretokenizers || []).flatMap(preTokenizerTypes);
  return [config];
}

/** A small trie over added-token contents: leftmost-longest matches, as the Rust crate finds them. */
class AddedTokens {
  constructor(tokens) {
    this.root = Object.create(null);
    this.byContent = new Map();
    for (const t of tokens) {
      let node = this.root;
      for (const ch of t.content) node = node[ch] ??= Object.create(null);
      node.end = t.content;
      this.byContent.set(t.content, t);
    }
  }

  /** Split ``text`` into [{text, start, end, token}] pieces; ``token`` is set for added tokens. */
  split(text, base = 0) {
    const out = [];
    if (this.byContent.size === 0) return text ? [{ text, start: base, end: base + text.length, token: null }] : [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      let node = this.root;
      let match = null;
      for (let j = i; j < text.length && (node = node[text[j]]); j++) if (node.end) match = node.end;
      if (match) {
        if (i > start) out.push({ text: text.slice(start, i), start: base + start, end: base + i, token: null });
        out.push({ text: match, start: base + i, end: base + i + match.length, token: this.byContent.get(match) });
        i += match.length;
        start = i;
      } else {
        i++;
      }
    }
    if (start < text.length) out.push({ text: text.slice(start), start: base + start, end: base + text.length, token: null });
    // lstrip / rstrip added tokens take the whitespace beside them (into their own span).
    for (let k = 0; k < out.length; k++) {
      const t = out[k].token;
      if (!t) continue;
      if (t.lstrip && k > 0 && !out[k - 1].token) {
        const prev = out[k - 1];
        const kept = prev.text.trimEnd();
        out[k].start -= prev.text.length - kept.length;
        prev.end -= prev.text.length - kept.length;
        prev.text = kept;
      }
      if (t.rstrip && k + 1 < out.length && !out[k + 1].token) {
        const next = out[k + 1];
        const kept = next.text.trimStart();
        out[k].end += next.text.length - kept.length;
        next.start += next.text.length - kept.length;
        next.text = kept;
      }
    }
    return out.filter((p) => p.token || p.text.length > 0);
  }
}

/**
 * The content tokens of one text (no special tokens): ids, type ids, UTF-16 offsets and the index
 * of the word (pre-tokenizer split, or added token) each token belongs to.
 * @typedef {{ids: number[], typeIds: number[], offsets: Array<[number, number]>, words: number[]}} TextTokens
 */

/** Wraps a bundle's tokenizer.json with the settings the exporter baked into it. */
export class BundleTokenizer {
  /**
   * @param {object} json parsed tokenizer.json
   * @param {number} maxLength the manifest's max_length (used when the file has no truncation section)
   * @param {number|null} fixedLength static_shape.sequence: pad every row to this length
   * @param {string} where file name for error messages
   */
  constructor(json, maxLength, fixedLength = null, where = 'tokenizer.json') {
    try {
      this.tok = new Tokenizer(json, {});
    } catch (e) {
      throw new BundleError(`${where}: not a tokenizer this runtime can read (${e.message}); re-export the bundle`);
    }
    const trunc = json.truncation;
    this.maxLength = trunc && trunc.max_length ? Number(trunc.max_length) : Number(maxLength);
    if (fixedLength != null) this.maxLength = Math.min(this.maxLength, Number(fixedLength));
    this.fixedLength = fixedLength == null ? null : Number(fixedLength);
    const padding = json.padding || {};
    this.padId = Number(padding.pad_id ?? this.tok.token_to_id('[PAD]') ?? 0);
    this.padTypeId = Number(padding.pad_type_id ?? 0);
    this.unkId = this.tok.model.unk_token_id ?? this.tok.token_to_id(this.tok.model.unk_token) ?? 0;

    const added = (json.added_tokens || []).map((t) => ({
      content: t.content,
      id: t.id,
      lstrip: !!t.lstrip,
      rstrip: !!t.rstrip,
      normalized: t.normalized ?? !t.special,
    }));
    this._rawAdded = new AddedTokens(added.filter((t) => !t.normalized || !this.tok.normalizer));
    this._normAdded = new AddedTokens(
      added.filter((t) => t.normalized && this.tok.normalizer).map((t) => ({ ...t, content: this.tok.normalizer(t.content) })),
    );
    const pre = preTokenizerTypes(json.pre_tokenizer);
    this._byteLevel = pre.some((p) => p.type === 'ByteLevel') ? byteLevelDecoder() : null;
    const meta = pre.find((p) => p.type === 'Metaspace');
    this._metaspace = meta ? meta.replacement || '\u2581' : null;
    this._prefix = json.model?.continuing_subword_prefix || null;
    this._normCache = new Map();
    this.specials = this._probeSpecials();
  }

  /** Token id of a token string, or undefined. */
  tokenToId(token) {
    return this.tok.token_to_id(token);
  }

  /** Token string of an id, or undefined. */
  idToToken(id) {
    return this.tok.id_to_token(id);
  }

  /** Decode ids to text, special tokens left out (as the Python tokenizers' decode does by default). */
  decode(ids) {
    return this.tok.decode(ids, { skip_special_tokens: true });
  }

  /** The special tokens around one sequence (e.g. [CLS] ... [SEP]), found by encoding a probe word. */
  _probeSpecials() {
    const full = this.tok.encode('a', { add_special_tokens: true, return_token_type_ids: true });
    const content = this.tok.encode('a', { add_special_tokens: false }).ids;
    const ids = full.ids;
    const types = full.token_type_ids || ids.map(() => 0);
    let at = -1;
    for (let i = 0; i + content.length <= ids.length && at < 0; i++) {
      if (content.every((c, k) => ids[i + k] === c)) at = i;
    }
    if (at < 0) at = ids.length;
    const after = at + content.length;
    return {
      prefixIds: ids.slice(0, at),
      prefixTypes: types.slice(0, at),
      suffixIds: ids.slice(after),
      suffixTypes: types.slice(after),
      contentType: content.length && at < ids.length ? types[at] : 0,
      get count() {
        return this.prefixIds.length + this.suffixIds.length;
      },
    };
  }

  /** The normaliser's output for one code point, cached: a text is normalised one character at a time. */
  _normChar(ch) {
    let out = this._normCache.get(ch);
    if (out === undefined) {
      out = this.tok.normalizer(ch);
      if (this._normCache.size < 1 << 16) this._normCache.set(ch, out);
    }
    return out;
  }

  /** ``text`` normalised cluster by cluster: [normalised string, original [start, end) of each of its code units]. */
  _normalize(text, base) {
    const norm = this.tok.normalizer;
    if (!norm) {
      const spans = Array.from({ length: text.length }, (_, i) => [base + i, base + i + 1]);
      return [text, spans];
    }
    let out = '';
    const spans = [];
    for (const c of clusters(text)) {
      if (c.points === 1) {
        const piece = this._normChar(c.text);
        out += piece;
        for (let k = 0; k < piece.length; k++) spans.push([base + c.start, base + c.end]);
        continue;
      }
      const piece = norm(c.text);
      out += piece;
      // A character with combining marks: each code point keeps its own span when normalising it
      // alone gives the same characters (lowercasing, accent stripping: a dropped mark then
      // belongs to no output character, as in the Rust crate); a cluster that composes (NFC)
      // maps as a whole to the original cluster.
      const parts = [];
      let pos = c.start;
      for (const ch of c.text) {
        parts.push([this._normChar(ch), pos, pos + ch.length]);
        pos += ch.length;
      }
      if (parts.map((p) => p[0]).join('') === piece) {
        for (const [p, s, e] of parts) for (let k = 0; k < p.length; k++) spans.push([base + s, base + e]);
      } else {
        for (let k = 0; k < piece.length; k++) spans.push([base + c.start, base + c.end]);
      }
    }
    return [out, spans];
  }

  /** Where a pre-token's text sits in the normalised string: the characters it stands for. */
  _surface(word) {
    if (this._byteLevel) {
      const bytes = [];
      for (const ch of word) bytes.push(this._byteLevel.get(ch) ?? 0x3f);
      word = new TextDecoder().decode(new Uint8Array(bytes));
    }
    if (this._metaspace) word = word.split(this._metaspace).join(' ');
    return word.trim() || word;
  }

  /**
   * Tokenise raw text without special tokens and without truncation.
   * @param {string} text
   * @returns {TextTokens & {wordSpans: Array<[number, number]>}}
   */
  encodeContent(text) {
    const ids = [];
    const offsets = [];
    const words = [];
    const wordSpans = [];
    const typeId = this.specials.contentType;
    const push = (id, start, end, newWord) => {
      if (newWord) wordSpans.push([start, end]);
      else wordSpans[wordSpans.length - 1][1] = Math.max(end, wordSpans[wordSpans.length - 1][1]);
      ids.push(id);
      offsets.push([start, end]);
      words.push(wordSpans.length - 1);
    };
    for (const section of this._rawAdded.split(text)) {
      if (section.token) {
        push(section.token.id, section.start, section.end, true);
        continue;
      }
      const [normalized, spans] = this._normalize(section.text, section.start);
      for (const sub of this._normAdded.split(normalized)) {
        const at = (i) => spans[Math.min(i, spans.length - 1)];
        if (sub.token) {
          push(sub.token.id, at(sub.start)[0], at(sub.end - 1)[1], true);
          continue;
        }
        const pieces = this.tok.pre_tokenizer ? this.tok.pre_tokenizer(sub.text, { section_index: 0 }) : [sub.text];
        let cursor = sub.start;
        for (const piece of pieces) {
          const surface = this._surface(piece);
          const found = normalized.indexOf(surface, cursor);
          let start;
          let end;
          if (found >= 0 && surface.length) {
            start = at(found)[0];
            end = at(found + surface.length - 1)[1];
            cursor = found + surface.length;
          } else {
            // A pre-token whose text cannot be found (a tokenizer family not aligned here):
            // it keeps an empty span at the current position rather than a wrong one.
            start = end = cursor < spans.length ? at(cursor)[0] : section.end;
          }
          const tokens = this.tok.model([piece]);
          let pos = found;
          tokens.forEach((t, k) => {
            const id = this.tok.token_to_id(t) ?? this.unkId;
            // A sub-word's own characters where its text follows on in the word (WordPiece, BPE
            // on plain text); otherwise ([UNK], byte-level pieces) the whole word's span.
            const bare = this._prefix && k > 0 && t.startsWith(this._prefix) ? t.slice(this._prefix.length) : t;
            let s = start;
            let e = end;
            if (found >= 0 && id !== this.unkId && bare && normalized.startsWith(bare, pos) && pos + bare.length <= found + surface.length) {
              s = at(pos)[0];
              e = at(pos + bare.length - 1)[1];
              pos += bare.length;
            }
            push(id, s, e, k === 0);
          });
        }
      }
    }
    return { ids, typeIds: ids.map(() => typeId), offsets, words, wordSpans };
  }

  /**
   * Model input for one text: special tokens around the content, cut to max_length.
   * @returns {{ids: number[], typeIds: number[], offsets: Array<[number, number]>}}
   */
  encode(text) {
    const content = this.encodeContent(text);
    const keep = Math.max(0, this.maxLength - this.specials.count);
    const s = this.specials;
    return {
      ids: [...s.prefixIds, ...content.ids.slice(0, keep), ...s.suffixIds],
      typeIds: [...s.prefixTypes, ...content.typeIds.slice(0, keep), ...s.suffixTypes],
      offsets: [...s.prefixIds.map(() => [0, 0]), ...content.offsets.slice(0, keep), ...s.suffixIds.map(() => [0, 0])],
    };
  }

  /**
   * Pad a batch to its longest row (or the fixed length): {inputIds, attentionMask, tokenTypeIds,
   * width}, each a flat array of rows x width numbers.
   * @param {Array<{ids: number[], typeIds: number[]}>} rows
   */
  toArrays(rows) {
    const width = this.fixedLength || Math.max(0, ...rows.map((r) => r.ids.length));
    const n = rows.length;
    const inputIds = new Array(n * width).fill(this.padId);
    const attentionMask = new Array(n * width).fill(0);
    const tokenTypeIds = new Array(n * width).fill(this.padTypeId);
    rows.forEach((r, i) => {
      for (let k = 0; k < r.ids.length; k++) {
        inputIds[i * width + k] = r.ids[k];
        attentionMask[i * width + k] = 1;
        tokenTypeIds[i * width + k] = r.typeIds[k];
      }
    });
    return { input_ids: inputIds, attention_mask: attentionMask, token_type_ids: tokenTypeIds, width };
  }
}
