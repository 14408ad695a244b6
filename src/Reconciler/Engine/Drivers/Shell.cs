using System.Text;

namespace Reconciler.Drivers;

/// <summary>
/// The one place that turns values into POSIX shell words. Everything the drivers send to a shell (remote or
/// local) is a constant script plus values quoted here, so no value is ever parsed as shell syntax.
/// </summary>
public static class Shell
{
    /// <summary>Single-quote style: <c>it's</c> becomes <c>'it'\''s'</c>. Inside single quotes nothing is special,
    /// so <c>$(...)</c>, backticks, <c>;</c> and newlines stay literal. NUL cannot be passed to a shell at all.</summary>
    public static string Quote(string value)
    {
        if (value.Contains('\0')) throw new ArgumentException("a NUL character cannot be passed to a shell", nameof(value));
        return "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>A command line running a constant <paramref name="script"/> with /bin/sh, values as positional
    /// parameters ($1, $2, ...): the script never contains a value, so it needs no escaping beyond one quote.</summary>
    public static string Script(string script, params IEnumerable<string> args)
    {
        var sb = new StringBuilder("/bin/sh -c ").Append(Quote(script)).Append(" sh");
        foreach (var a in args) sb.Append(' ').Append(Quote(a));
        return sb.ToString();
    }
}
