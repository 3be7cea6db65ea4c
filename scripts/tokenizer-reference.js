// Writes the ids Hugging Face tokenizers (Rust, through the npm package @anush008/tokenizers) gives
// for texts, the reference RealTokenizerTests compares with:
//   node scripts/tokenizer-reference.js TOKENIZER_JSON TEXTS_JSON > OUT_JSON
// TEXTS_JSON is a JSON array of strings; OUT_JSON holds [{text, ids, ids_with_special}].
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [tokenizerPath, textsPath] = process.argv.slice(2);
  const tokenizer = Tokenizer.fromFile(tokenizerPath);
  const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
  const out = [];
  for (const text of texts) {
    const plain = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const special = await tokenizer.encode(text, null, { addSpecialTokens: true });
    out.push({ text, ids: plain.getIds(), ids_with_special: special.getIds() });
  }
  const escape = (json) => json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  process.stdout.write('[\n' + out.map((o) => ' ' + escape(JSON.stringify(o))).join(',\n') + '\n]\n');
}
main();
