using System.Buffers;
using Newtonsoft.Json.Linq;

namespace Reconciler.Schema.Loading;

/// <summary>
/// A hand-written reader for the small subset of YAML that repository files use: block mappings and sequences
/// ("- key: value" items included), comments, blank lines, one-line flow collections, one-line plain and quoted
/// scalars, and a leading "---". It yields exactly what <see cref="YamlToJson"/>'s YamlDotNet path yields for the
/// same text (tree, JToken types, node positions, no diagnostics), and returns null, so the caller starts over with
/// YamlDotNet, as soon as the text leaves the subset or anything could be read two ways.
/// <para>
/// Why by hand: YamlDotNet's scanner and parser are ~59 % of a cold repository load (docs/benchmarks/repo.md) and no
/// other .NET YAML library gives per-node positions with the same line/column and duplicate-key behaviour. YamlDotNet
/// stays the authority for everything else (anchors, tags, block scalars, multi-line scalars, errors and their
/// messages); this reader only accepts what it can prove it reads identically, and YamlToJsonFastPathTests holds it to
/// that with a differential test over real and mutated files.
/// </para>
/// Columns are 1-based in UTF-16 chars, like YamlDotNet's Mark.Column (tabs, CR and surrogates are refused up front,
/// so a column is simply the offset from the line start plus one).
/// </summary>
internal static class FastYaml
{
    private const int MaxDepth = 64;

    // YamlDotNet refuses simple keys longer than 1024 chars; stay well below so the limit never matters here.
    private const int MaxKeyLength = 512;

    // Printable ASCII and '\n'. Anything else is looked at one by one (see IsSafeChar).
    private static readonly SearchValues<char> SafeAscii = SearchValues.Create(
        "\n !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>The document's root mapping, with <paramref name="nodes"/> filled; null when YamlDotNet must read it
    /// (then <paramref name="nodes"/> holds partial entries the caller discards).</summary>
    public static JObject? TryRead(string text, Dictionary<string, NodeInfo> nodes)
    {
        if (!OnlySafeChars(text)) return null;
        return new Reader(text, nodes).ReadDocument();
    }

    /// <summary>Tabs, CR, control characters, Unicode line breaks (NEL, LS, PS), BOMs and surrogates make YamlDotNet
    /// count columns or split lines differently from a plain '\n' reader, so any of them sends the file to YamlDotNet.</summary>
    private static bool OnlySafeChars(string text)
    {
        var span = text.AsSpan();
        while (true)
        {
            var i = span.IndexOfAnyExcept(SafeAscii);
            if (i < 0) return true;
            var c = span[i];
            if (c < '\u00A0' || c is '\u2028' or '\u2029' or '\uFEFF' or >= '\uFFFE' || char.IsSurrogate(c)) return false;
            span = span[(i + 1)..];
        }
    }

    private enum End : byte { LineEnd, Comment, Colon, FlowIndicator, Refused }

    private sealed class Reader(string s, Dictionary<string, NodeInfo> nodes)
    {
        // The current line: [_lineStart, _lineEnd) without its '\n', 1-based _line, _indent leading spaces.
        private int _lineStart;
        private int _lineEnd;
        private int _line = 1;
        private int _indent;
        private int _pos;

        private int Column(int index) => index - _lineStart + 1;

        public JObject? ReadDocument()
        {
            var status = SkipToContent(allowDocumentStart: true);
            if (status == Status.DocumentStart)
            {
                // "---" alone (or with a comment) before the root: YamlDotNet's positions of the root are unaffected.
                if (!RestIsBlank(_lineStart + 3)) return null;
                NextLine();
                status = SkipToContent(allowDocumentStart: false);
            }
            // Empty files, roots that are not a block mapping at column 1: YamlDotNet reports or reads them.
            if (status != Status.Content || _indent != 0) return null;
            _pos = _lineStart;
            var root = ReadBlockMapping("", 0, 0, 0);
            // The root mapping only returns early at the end of the input or a line indented less than 0 (impossible).
            return root is not null && _lineStart > s.Length ? root : null;
        }

        private enum Status : byte { End, Content, DocumentStart, Refused }

        private void NextLine()
        {
            _lineStart = _lineEnd + 1;
            _line++;
        }

        /// <summary>Moves to the next line that holds more than spaces and a comment, from the current line on.</summary>
        private Status SkipToContent(bool allowDocumentStart)
        {
            while (_lineStart <= s.Length)
            {
                var end = s.IndexOf('\n', _lineStart);
                _lineEnd = end < 0 ? s.Length : end;
                var i = _lineStart;
                while (i < _lineEnd && s[i] == ' ') i++;
                _indent = i - _lineStart;
                if (i < _lineEnd && s[i] != '#')
                {
                    if (_indent == 0 && IsDocumentMarker(i))
                        return allowDocumentStart && s[i] == '-' ? Status.DocumentStart : Status.Refused;
                    return Status.Content;
                }
                if (end < 0) break;
                NextLine();
            }
            _lineStart = s.Length + 1;
            return Status.End;
        }

        // "---" or "..." at column 1 followed by a space or the line end (YamlDotNet's IsDocumentStart/End).
        private bool IsDocumentMarker(int i) =>
            i + 3 <= _lineEnd &&
            ((s[i] == '-' && s[i + 1] == '-' && s[i + 2] == '-') || (s[i] == '.' && s[i + 1] == '.' && s[i + 2] == '.')) &&
            (i + 3 == _lineEnd || s[i + 3] == ' ');

        /// <summary>Only spaces, then the line end or a comment. YamlDotNet also takes a '#' right after a closing
        /// quote or bracket as a comment (YAML does not); such lines go to YamlDotNet.</summary>
        private bool RestIsBlank(int i)
        {
            while (i < _lineEnd && s[i] == ' ') i++;
            return i == _lineEnd || (s[i] == '#' && i > 0 && s[i - 1] == ' ');
        }

        private int SkipSpaces(int i)
        {
            while (i < _lineEnd && s[i] == ' ') i++;
            return i;
        }

        private bool IsBlockEntry(int i) => s[i] == '-' && (i + 1 == _lineEnd || s[i + 1] == ' ');

        /// <summary>A block mapping whose first key starts at <see cref="_pos"/> on the current line; every later key
        /// must start at the same column. Returns at the end of the input or at a line indented less than the keys,
        /// positioned on that line.</summary>
        private JObject? ReadBlockMapping(string pointer, int keyLine, int keyColumn, int depth)
        {
            if (depth > MaxDepth) return null;
            var indent = _pos - _lineStart;
            nodes[pointer] = new NodeInfo(_line, indent + 1, keyLine, keyColumn, NodeKind.Mapping, null);
            var obj = new JObject();
            while (true)
            {
                var kLine = _line;
                var kColumn = Column(_pos);
                var key = ReadBlockKey();
                // Duplicate keys: YamlDotNet reports them (and keeps the first value).
                if (key is null || obj.ContainsKey(key)) return null;
                var value = ReadBlockMappingValue(ParsedFile.Child(pointer, key), kLine, kColumn, depth + 1, indent);
                if (value is null) return null;
                obj.Add(key, value);

                if (_lineStart > s.Length || _indent < indent) return obj;
                // Deeper lines here would continue a plain scalar or be an error; a "- " at the keys' column is an error.
                if (_indent > indent) return null;
                _pos = _lineStart + indent;
                if (IsBlockEntry(_pos)) return null;
            }
        }

        /// <summary>A key at <see cref="_pos"/> followed by ':' and a space or the line end; leaves <see cref="_pos"/>
        /// after the ':'.</summary>
        private string? ReadBlockKey()
        {
            var start = _pos;
            string key;
            int colon;
            if (s[start] is '"' or '\'')
            {
                var quoted = ReadQuoted(start, out var after);
                if (quoted is null) return null;
                key = quoted;
                colon = SkipSpaces(after);
            }
            else
            {
                if (!IsPlainStart(start)) return null;
                if (ScanPlain(start, flow: false, out var valueEnd, out colon) != End.Colon) return null;
                key = s.Substring(start, valueEnd - start);
                if (!IsTextKey(key)) return null;
            }
            if (colon >= _lineEnd || s[colon] != ':' || (colon + 1 < _lineEnd && s[colon + 1] != ' ')) return null;
            if (colon - start > MaxKeyLength) return null;
            _pos = colon + 1;
            return key;
        }

        /// <summary>The value after "key:" (<see cref="_pos"/> is just past the ':'), on this line or the block below;
        /// leaves the reader on the next content line.</summary>
        private JToken? ReadBlockMappingValue(string pointer, int keyLine, int keyColumn, int depth, int mappingIndent)
        {
            var i = SkipSpaces(_pos);
            if (i == _lineEnd || s[i] == '#')
            {
                var emptyLine = _line;
                var emptyColumn = Column(_pos);
                NextLine();
                var status = SkipToContent(allowDocumentStart: false);
                if (status == Status.Refused) return null;
                if (status == Status.Content)
                {
                    var first = _lineStart + _indent;
                    if (_indent > mappingIndent)
                    {
                        _pos = first;
                        return IsBlockEntry(first)
                            ? ReadBlockSequence(pointer, keyLine, keyColumn, depth, indentless: false)
                            : ReadBlockMapping(pointer, keyLine, keyColumn, depth);
                    }
                    if (_indent == mappingIndent && IsBlockEntry(first))
                    {
                        _pos = first;
                        return ReadBlockSequence(pointer, keyLine, keyColumn, depth, indentless: true);
                    }
                }
                // Nothing below: an empty plain scalar (null), placed just after the ':' as YamlDotNet places it.
                if (depth > MaxDepth) return null;
                nodes[pointer] = new NodeInfo(emptyLine, emptyColumn, keyLine, keyColumn, NodeKind.Null, "");
                return JValue.CreateNull();
            }
            return ReadInlineValue(i, pointer, keyLine, keyColumn, depth);
        }

        /// <summary>A flow collection or a scalar that fills the rest of the current line from <paramref name="i"/>;
        /// leaves the reader on the next content line.</summary>
        private JToken? ReadInlineValue(int i, string pointer, int keyLine, int keyColumn, int depth)
        {
            if (depth > MaxDepth) return null;
            JToken? value;
            if (s[i] is '{' or '[')
            {
                _pos = i;
                value = ReadFlow(pointer, keyLine, keyColumn, depth);
                if (value is null) return null;
                i = _pos;
            }
            else if (s[i] is '"' or '\'')
            {
                var text = ReadQuoted(i, out var after);
                if (text is null) return null;
                nodes[pointer] = new NodeInfo(_line, Column(i), keyLine, keyColumn, NodeKind.String, null);
                value = new JValue(text);
                i = after;
            }
            else
            {
                if (!IsPlainStart(i)) return null;
                var ended = ScanPlain(i, flow: false, out var valueEnd, out var next);
                if (ended is not (End.LineEnd or End.Comment)) return null;
                value = Plain(i, valueEnd, pointer, keyLine, keyColumn);
                i = next;
            }
            if (!RestIsBlank(i)) return null;
            NextLine();
            return SkipToContent(allowDocumentStart: false) == Status.Refused ? null : value;
        }

        private JValue Plain(int start, int end, string pointer, int keyLine, int keyColumn)
        {
            var text = s.Substring(start, end - start);
            var (value, kind) = YamlToJson.ResolvePlain(text);
            nodes[pointer] = new NodeInfo(_line, Column(start), keyLine, keyColumn, kind, kind is NodeKind.String ? null : text);
            return (JValue)value;
        }

        /// <summary>A block sequence whose first "-" is at <see cref="_pos"/>. An indentless one (items at the column
        /// of its parent's keys) ends at a line of that column that is not an item.</summary>
        private JArray? ReadBlockSequence(string pointer, int keyLine, int keyColumn, int depth, bool indentless)
        {
            if (depth > MaxDepth) return null;
            var indent = _pos - _lineStart;
            nodes[pointer] = new NodeInfo(_line, indent + 1, keyLine, keyColumn, NodeKind.Sequence, null);
            var array = new JArray();
            while (true)
            {
                var itemPointer = ParsedFile.Child(pointer, array.Count);
                var i = SkipSpaces(_pos + 1);
                // "-" alone (a null item or a block below it) and "- - x" are left to YamlDotNet.
                if (i == _lineEnd || s[i] == '#' || IsBlockEntry(i)) return null;
                JToken? item;
                if (IsItemMapping(i))
                {
                    _pos = i;
                    item = ReadBlockMapping(itemPointer, 0, 0, depth + 1);
                }
                else
                {
                    item = ReadInlineValue(i, itemPointer, 0, 0, depth + 1);
                }
                if (item is null) return null;
                array.Add(item);

                if (_lineStart > s.Length || _indent < indent) return array;
                if (_indent > indent) return null;
                _pos = _lineStart + indent;
                if (!IsBlockEntry(_pos)) return indentless ? array : null;
            }
        }

        /// <summary>Whether "- " is followed by "key:" (a mapping starting on the item's line) rather than a scalar.</summary>
        private bool IsItemMapping(int i)
        {
            int colon;
            if (s[i] is '"' or '\'')
            {
                if (ReadQuoted(i, out var after) is null) return false;
                colon = SkipSpaces(after);
            }
            else
            {
                if (!IsPlainStart(i) || ScanPlain(i, flow: false, out _, out colon) != End.Colon) return false;
            }
            return colon < _lineEnd && s[colon] == ':' && (colon + 1 == _lineEnd || s[colon + 1] == ' ');
        }

        /// <summary>A one-line flow mapping or sequence at <see cref="_pos"/>; leaves <see cref="_pos"/> after its
        /// closing bracket.</summary>
        private JToken? ReadFlow(string pointer, int keyLine, int keyColumn, int depth)
        {
            if (depth > MaxDepth) return null;
            var open = _pos;
            var isMapping = s[open] == '{';
            nodes[pointer] = new NodeInfo(_line, Column(open), keyLine, keyColumn, isMapping ? NodeKind.Mapping : NodeKind.Sequence, null);
            var close = isMapping ? '}' : ']';
            var i = SkipSpaces(open + 1);
            if (i == _lineEnd) return null;
            JContainer container = isMapping ? new JObject() : new JArray();
            if (s[i] == close)
            {
                _pos = i + 1;
                return container;
            }
            while (true)
            {
                JToken? value;
                if (isMapping)
                {
                    var kColumn = Column(i);
                    var key = ReadFlowKey(i, out i);
                    if (key is null || ((JObject)container).ContainsKey(key)) return null;
                    value = ReadFlowNode(SkipSpaces(i), ParsedFile.Child(pointer, key), _line, kColumn, depth + 1);
                    if (value is null) return null;
                    ((JObject)container).Add(key, value);
                }
                else
                {
                    value = ReadFlowNode(i, ParsedFile.Child(pointer, container.Count), 0, 0, depth + 1);
                    if (value is null) return null;
                    container.Add(value);
                }
                i = SkipSpaces(_pos);
                if (i == _lineEnd) return null;
                if (s[i] == close)
                {
                    _pos = i + 1;
                    return container;
                }
                // A ':' after a sequence item (a single-pair mapping), a trailing ',' or anything else: YamlDotNet's call.
                if (s[i] != ',') return null;
                i = SkipSpaces(i + 1);
                if (i == _lineEnd || s[i] == close || s[i] == ',') return null;
            }
        }

        /// <summary>A plain key YAML reads as a null, boolean or number is refused by YamlDotNet's path (yaml.key-type).</summary>
        private static bool IsTextKey(string key) =>
            (char.IsAsciiLetter(key[0]) && key[0] is not ('t' or 'T' or 'f' or 'F' or 'n' or 'N')) || YamlToJson.ResolvePlain(key).Kind == NodeKind.String;

        /// <summary>A flow mapping key followed by ": "; <paramref name="next"/> is just past the ':'.</summary>
        private string? ReadFlowKey(int i, out int next)
        {
            next = 0;
            string key;
            int colon;
            if (s[i] is '"' or '\'')
            {
                var quoted = ReadQuoted(i, out var after);
                if (quoted is null) return null;
                key = quoted;
                colon = SkipSpaces(after);
            }
            else
            {
                if (!IsPlainStart(i) || ScanPlain(i, flow: true, out var valueEnd, out colon) != End.Colon) return null;
                key = s.Substring(i, valueEnd - i);
                if (!IsTextKey(key)) return null;
            }
            // Require ": " (YamlDotNet also takes "\"a\":b" and other adjacent forms; leave those to it).
            if (colon + 1 >= _lineEnd || s[colon] != ':' || s[colon + 1] != ' ' || colon - i > MaxKeyLength) return null;
            next = colon + 1;
            return key;
        }

        /// <summary>A flow collection or scalar inside a flow collection; leaves <see cref="_pos"/> after it.</summary>
        private JToken? ReadFlowNode(int i, string pointer, int keyLine, int keyColumn, int depth)
        {
            if (depth > MaxDepth || i >= _lineEnd) return null;
            if (s[i] is '{' or '[')
            {
                _pos = i;
                return ReadFlow(pointer, keyLine, keyColumn, depth);
            }
            if (s[i] is '"' or '\'')
            {
                var text = ReadQuoted(i, out _pos);
                if (text is null) return null;
                nodes[pointer] = new NodeInfo(_line, Column(i), keyLine, keyColumn, NodeKind.String, null);
                return new JValue(text);
            }
            if (!IsPlainStart(i) || ScanPlain(i, flow: true, out var valueEnd, out var next) != End.FlowIndicator) return null;
            _pos = next;
            return Plain(i, valueEnd, pointer, keyLine, keyColumn);
        }

        /// <summary>A quoted scalar that closes on its own line, without escapes (a '\' in double quotes or a line
        /// break inside the quotes hands the file to YamlDotNet); <paramref name="after"/> is past the closing quote.</summary>
        private string? ReadQuoted(int open, out int after)
        {
            after = 0;
            var quote = s[open];
            var i = open + 1;
            if (quote == '"')
            {
                var rel = s.AsSpan(i, _lineEnd - i).IndexOfAny('"', '\\');
                if (rel < 0 || s[i + rel] == '\\') return null;
                after = i + rel + 1;
                return s.Substring(i, rel);
            }
            string? result = null;
            var segmentStart = i;
            while (true)
            {
                var rel = s.AsSpan(i, _lineEnd - i).IndexOf('\'');
                if (rel < 0) return null;
                var q = i + rel;
                if (q + 1 < _lineEnd && s[q + 1] == '\'')
                {
                    // '' is one quote.
                    result = string.Concat(result, s.AsSpan(segmentStart, q + 1 - segmentStart));
                    i = q + 2;
                    segmentStart = i;
                    continue;
                }
                after = q + 1;
                return result is null ? s.Substring(segmentStart, q - segmentStart) : string.Concat(result, s.AsSpan(segmentStart, q - segmentStart));
            }
        }

        /// <summary>Characters that may start a plain scalar here. YamlDotNet allows more ('?', ':' and, in some
        /// flow positions, any indicator); those forms are left to it.</summary>
        private bool IsPlainStart(int i)
        {
            var c = s[i];
            switch (c)
            {
                case '-':
                    if (i + 1 >= _lineEnd) return false;
                    var n = s[i + 1];
                    return char.IsAsciiLetterOrDigit(n) || n == '.';
                case ' ' or '?' or ':' or ',' or '[' or ']' or '{' or '}' or '#' or '&' or '*' or '!' or '|' or '>' or '\'' or '"' or '%' or '@' or '`':
                    return false;
                default:
                    return true;
            }
        }

        /// <summary>
        /// Scans a one-line plain scalar from <paramref name="start"/> the way YamlDotNet's ScanPlainScalar does:
        /// runs of non-spaces joined by spaces, ended by ": " (or ':' at the line end), by " #", by the line end, and in
        /// flow context by ",[]{}". <paramref name="valueEnd"/> is the end of the last run (trailing spaces are not
        /// part of the value); <paramref name="next"/> is where scanning stopped (the ':', '#', indicator or line end).
        /// </summary>
        private End ScanPlain(int start, bool flow, out int valueEnd, out int next)
        {
            var i = start;
            valueEnd = start;
            while (true)
            {
                if (i > start && s[i] == '#')
                {
                    next = i;
                    return End.Comment;
                }
                // YamlDotNet lets a ':' inside a run that starts with '*' pass (as if an alias followed), sometimes
                // reading on to later lines; leave such scalars to it.
                if (s[i] == '*')
                {
                    next = i;
                    return End.Refused;
                }
                // A run that ends at an indicator still belongs to the value; one that starts at it adds nothing.
                var runStart = i;
                while (i < _lineEnd && s[i] != ' ')
                {
                    var c = s[i];
                    if (c == ':')
                    {
                        var after = i + 1 < _lineEnd ? s[i + 1] : ' ';
                        if (after == ' ')
                        {
                            if (i > runStart) valueEnd = i;
                            next = i;
                            return End.Colon;
                        }
                        // In flow context YamlDotNet ends the scalar at ":," and keeps "b:" in "{a: b:}"; leave both to it.
                        if (flow && after is ',' or '[' or ']' or '{' or '}')
                        {
                            next = i;
                            return End.Refused;
                        }
                    }
                    else if (flow && c is ',' or '[' or ']' or '{' or '}')
                    {
                        if (i > runStart) valueEnd = i;
                        next = i;
                        return End.FlowIndicator;
                    }
                    i++;
                }
                valueEnd = i;
                i = SkipSpaces(i);
                if (i == _lineEnd)
                {
                    next = i;
                    return End.LineEnd;
                }
            }
        }
    }
}
