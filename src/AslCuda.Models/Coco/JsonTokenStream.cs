using System.Text.Json;

namespace AslCuda.Models.Coco;

/// <summary>
/// Pull-style JSON tokens from a stream with a bounded buffer: <see cref="Utf8JsonReader"/> over a window that is
/// refilled as it is consumed (and grown only when one token is longer than the window). COCO's 80 MB instances
/// file is mostly segmentation polygons that the data set skips, so memory stays at the buffer plus what the
/// caller keeps. Errors carry the file name and the line. The stream stays the caller's to dispose.
/// </summary>
internal sealed class JsonTokenStream
{
    private readonly Stream _stream;
    private readonly string _name;
    private byte[] _buffer;
    private int _start, _end;
    private bool _finalBlock;
    private JsonReaderState _state;

    /// <summary>Property names returned as these instances when they match (no string allocated per object field).</summary>
    private readonly (byte[] Utf8, string Text)[] _knownNames;

    public JsonTokenStream(Stream stream, string name, IEnumerable<string> knownNames, int bufferSize = 1 << 16)
    {
        _stream = stream;
        _name = name;
        _knownNames = knownNames.Select(n => (System.Text.Encoding.UTF8.GetBytes(n), n)).ToArray();
        _buffer = new byte[bufferSize];
        _state = new JsonReaderState(new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
    }

    public JsonTokenType TokenType { get; private set; } = JsonTokenType.None;

    /// <summary>Depth of the current token as <see cref="Utf8JsonReader.CurrentDepth"/> counts it (the root value is at 0).</summary>
    public int Depth { get; private set; }

    /// <summary>The text of the current string or property name.</summary>
    public string? String { get; private set; }

    /// <summary>The current number, when it is an integer that fits in 64 bits.</summary>
    public long? Integer { get; private set; }

    /// <summary>1-based line of the last token read, for messages.</summary>
    public long Line { get; private set; } = 1;

    /// <summary>Reads the next token; false at the end of the document, and for an empty stream.</summary>
    public bool Read() => Read(materialize: true);

    /// <summary>Reads the next value and skips it whole (a scalar without making a string of it, an object or array to its end).</summary>
    public void SkipNextValue()
    {
        if (!Read(materialize: false)) throw new InvalidDataException($"{_name}: the JSON ends where a value should be (truncated file?)");
        SkipValue();
    }

    private bool Read(bool materialize)
    {
        while (true)
        {
            if (_finalBlock && _end == 0 && TokenType == JsonTokenType.None) return false;
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _finalBlock, _state);
            bool read;
            try
            {
                read = reader.Read();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{_name}: not valid JSON near line {e.LineNumber + 1}: {e.Message}", e);
            }
            if (read)
            {
                TokenType = reader.TokenType;
                Depth = reader.CurrentDepth;
                String = !materialize ? null
                    : TokenType == JsonTokenType.PropertyName ? PropertyName(ref reader)
                    : TokenType == JsonTokenType.String ? reader.GetString()
                    : null;
                Integer = materialize && TokenType == JsonTokenType.Number && reader.TryGetInt64(out long value) ? value : null;
                Advance(ref reader);
                return true;
            }
            if (_finalBlock) return false;
            Refill();
        }
    }

    /// <summary>After a start token, reads up to and including its matching end token; after any other token, does nothing.</summary>
    public void SkipValue()
    {
        if (TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return;
        int depth = Depth;
        while (true)
        {
            // Many tokens per reader: skipping is where almost all of COCO's bytes go.
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _finalBlock, _state);
            try
            {
                while (reader.Read())
                {
                    if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray && reader.CurrentDepth == depth)
                    {
                        TokenType = reader.TokenType;
                        Depth = depth;
                        String = null;
                        Integer = null;
                        Advance(ref reader);
                        return;
                    }
                }
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{_name}: not valid JSON near line {e.LineNumber + 1}: {e.Message}", e);
            }
            Advance(ref reader);
            if (_finalBlock) throw new InvalidDataException($"{_name}: the JSON ends inside a value (truncated file?)");
            Refill();
        }
    }

    /// <summary>Reads the next token and checks its type; <paramref name="what"/> says where, for the message.</summary>
    public void Expect(JsonTokenType type, string what)
    {
        if (!Read()) throw new InvalidDataException($"{_name}: the JSON ends where {what} should be (truncated file?)");
        if (TokenType != type) throw Unexpected(what, type.ToString());
    }

    public InvalidDataException Unexpected(string what, string expected) =>
        new($"{_name}: not a COCO instances file: {what} is a JSON {Describe(TokenType)} (line {Line}), expected {expected}.");

    private string PropertyName(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
            foreach (var (utf8, text) in _knownNames)
                if (reader.ValueSpan.SequenceEqual(utf8)) return text;
        return reader.GetString()!;
    }

    private void Advance(ref Utf8JsonReader reader)
    {
        // Lines are counted here for messages about content; Utf8JsonReader exposes its own only in exceptions.
        int consumed = (int)reader.BytesConsumed;
        Line += _buffer.AsSpan(_start, consumed).Count((byte)'\n');
        _start += consumed;
        _state = reader.CurrentState;
    }

    private void Refill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0) _finalBlock = true;
        _end += read;
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };
}
