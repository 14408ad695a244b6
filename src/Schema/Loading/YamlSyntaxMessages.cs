namespace Reconciler.Schema.Loading;

/// <summary>
/// Turns YamlDotNet's scanner and parser messages ("while scanning a plain scalar value, found invalid mapping")
/// into what the person who wrote the file sees and can do, in the file's terms: no parser states, token or event
/// names. The table is matched on stable fragments of YamlDotNet's messages; anything unknown gets a general
/// message rather than the parser's words (YamlSyntaxMessagesTests holds both to it).
/// </summary>
internal static class YamlSyntaxMessages
{
    private static readonly (string[] Fragments, string Message)[] Table =
    [
        (["tab"], "a tab character where YAML needs spaces; replace the tab with spaces"),
        (["quoted scalar", "end of stream"], "a quoted value is not closed; add the closing quote"),
        (["quoted scalar"], "a quoted value is malformed; check its quotes and backslash escapes (inside double quotes write \\\\ for a backslash)"),
        (["flow sequence"], "a list in [ ] is not closed, or two of its items lack a ',' between them; check the '[' and ']'"),
        (["flow mapping"], "a mapping in { } is not closed, or two of its entries lack a ',' between them; check the '{' and '}'"),
        (["could not find expected ':'"], "a line holds a key without ':' (or continues a value on a line of its own); write 'key: value' on one line"),
        (["mapping values are not allowed"], "a ':' followed by a space inside a value; quote the value (\"a: b\"), or fix the indentation of this line"),
        (["invalid mapping"], "a value holds ': ' or runs on to a line that looks like 'key: value'; quote the value, or fix the indentation"),
        (["block sequence entries are not allowed"], "a '- ' list item where a value was expected; start the list on the next line, indented under its key"),
        (["block mapping"], "this line does not line up with the other keys of its mapping; indent it exactly like them"),
        (["block collection"], "this list item does not line up with the other '- ' items; indent it exactly like them"),
        (["block scalar"], "the lines of a block value ('|' or '>') are not indented alike; indent them more than its key, all by the same amount"),
        (["cannot start any token"], "a character that cannot start a value here (such as '@' or '`'); quote the value"),
        (["anchor or alias"], "a '&' or '*' starts a YAML anchor or alias, which are not supported; quote the value"),
        (["tag"], "a '!' starts a YAML tag, which is not supported here; quote the value"),
        (["directive"], "a line starting with '%' is a YAML directive, which is not supported; remove it or quote the value"),
        (["expected node content"], "a value is missing, or starts with a character YAML reserves; write the value, quoted if it starts with a symbol"),
        (["document"], "content after the end of the document ('---' or '...'); keep one document per file, without markers in the middle"),
        (["end of stream"], "the file ends in the middle of a value; close what is open (a quote, '[' or '{')"),
    ];

    /// <summary>The diagnostic text for a YamlDotNet message.</summary>
    public static string Explain(string parserMessage)
    {
        var m = parserMessage.ToLowerInvariant();
        foreach (var (fragments, message) in Table)
            if (fragments.All(f => m.Contains(f, StringComparison.Ordinal))) return $"malformed YAML: {message}";
        return "malformed YAML: this line cannot be read; check its indentation, colons, quotes and brackets";
    }
}
