using System.Buffers.Binary;
using LlmEngine.Kernels.Loading;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>The pieces and merge scores of a llama2.c tokenizer file (<c>tok512.bin</c>,
/// <c>tokenizer.bin</c>): an int32 max piece length, then per token a float32 score, an int32
/// byte length and that many raw UTF-8 bytes. The file does not store how many tokens it holds;
/// the model header does, so the caller passes it.</summary>
internal sealed record Llama2cVocabulary(byte[][] Pieces, float[] Scores)
{
    public static Llama2cVocabulary Read(string path, int vocabSize)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{path}: cannot read the tokenizer ({e.Message})", e);
        }

        if (file.Length < 4)
            throw new ModelLoadException($"{path}: truncated, {file.Length} bytes is shorter than the 4-byte header");
        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(file);
        if (maxLength <= 0)
            throw new ModelLoadException($"{path}: max_token_length is {maxLength}; not a llama2.c tokenizer");

        var pieces = new byte[vocabSize][];
        var scores = new float[vocabSize];
        int at = 4;
        for (int i = 0; i < vocabSize; i++)
        {
            if (file.Length - at < 8)
                throw Truncated(path, i, vocabSize, file.Length);
            scores[i] = BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(at));
            int length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at + 4));
            at += 8;
            if (length < 0)
                throw new ModelLoadException($"{path}: token {i} has length {length}; not a llama2.c tokenizer");
            if (file.Length - at < length)
                throw Truncated(path, i, vocabSize, file.Length);
            pieces[i] = file.AsSpan(at, length).ToArray();
            at += length;
        }

        // Bytes left over mean the file holds more tokens than the model's vocabulary: almost
        // certainly the tokenizer of another model, whose ids would not match the embeddings.
        if (at != file.Length)
            throw new ModelLoadException(
                $"{path}: {file.Length - at} bytes follow the {vocabSize} tokens the model's vocab_size asks for; is this the tokenizer of another model?");
        return new Llama2cVocabulary(pieces, scores);
    }

    private static ModelLoadException Truncated(string path, int token, int vocabSize, long length) =>
        new($"{path}: truncated at token {token} of {vocabSize} ({length} bytes); the file is incomplete or belongs to a model with a smaller vocabulary");
}
