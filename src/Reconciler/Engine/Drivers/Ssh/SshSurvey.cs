using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;

namespace Reconciler.Drivers.Ssh;

/// <summary>
/// The live probe's one exec per host (<see cref="RemoteScripts.Survey"/>): the command line for a host's queries and the
/// parsing of its output back into the answers the call-by-call path gives (<see cref="IHostSession.InspectAsync"/>, the
/// damage check's directory test, <see cref="IHostSession.RunAsync"/> per check). Every section is delimited by a nonce
/// drawn per exec, so no output of a check can pass for a delimiter.
/// </summary>
internal static class SshSurvey
{
    /// <summary>Null when a query holds a value the scripts refuse (the call-by-call path then reports it, as it always has).</summary>
    public static string? Command(string nonce, IReadOnlyList<SurveyQuery> queries)
    {
        var args = new List<string> { nonce };
        foreach (var q in queries)
        {
            if (!ReleaseLayout.IsValidDeployPath(q.DeployPath)
                || q.ReleaseDir is { } dir && !ReleaseLayout.IsValidReleaseId(dir)
                || q.ChecksIfCurrent is { } want && !ReleaseLayout.IsValidReleaseId(want))
                return null;
            args.AddRange([q.DeployPath, q.ReleaseDir ?? "", q.ChecksIfCurrent ?? "", q.Checks.Length.ToString(CultureInfo.InvariantCulture)]);
            foreach (var check in q.Checks)
                args.AddRange([Seconds(check.Timeout), check.Command]);
        }
        return Shell.Script(RemoteScripts.Survey, args);
    }

    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Null when the output is not whole (a section missing): the caller then asks call by call.</summary>
    public static IReadOnlyList<SurveyAnswer>? Parse(string nonce, string stdout, string stderr, IReadOnlyList<SurveyQuery> queries)
    {
        var at = $"@{nonce} ";
        var answers = new SurveyAnswer[queries.Count];
        for (var i = 0; i < queries.Count; i++)
        {
            if (Between(stdout, $"{at}L {i}\n", i + 1 < queries.Count ? $"{at}L {i + 1}\n" : null) is not { } section
                || !section.Contains($"{at}G {i}\n", StringComparison.Ordinal))
                return null;
            var head = section[..IndexOrEnd(section, at)];
            var present = queries[i].ReleaseDir is null ? (bool?)null : section.Contains($"{at}D {i} present\n", StringComparison.Ordinal);
            var checks = ImmutableArray.CreateBuilder<CommandResult>();
            for (var j = 0; j < queries[i].Checks.Length; j++)
            {
                var begin = $"{at}B {i} {j}\n";
                if (Between(section, begin, $"\n{at}E {i} {j} ") is not { } output) break;
                var end = section.IndexOf($"\n{at}E {i} {j} ", StringComparison.Ordinal) + $"\n{at}E {i} {j} ".Length;
                var eol = section.IndexOf('\n', end);
                var status = eol < 0 ? [] : section[end..eol].Split(' ');
                if (status.Length != 2 || !int.TryParse(status[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var exit)) return null;
                var errors = Between(stderr, begin, $"\n{at}E {i} {j}\n") ?? "";
                checks.Add(status[1] == "1" ? CommandResult.Timeout(queries[i].Checks[j].Timeout) : new CommandResult(exit, output + errors));
            }
            answers[i] = new SurveyAnswer(SshHostSession.Listing.Parse(head).ToHostReleases(), present, checks.ToImmutable());
        }
        return answers;
    }

    /// <summary>The text after <paramref name="start"/> up to <paramref name="end"/> (or the end of the text); null
    /// when <paramref name="start"/> is not there.</summary>
    private static string? Between(string text, string start, string? end)
    {
        var from = text.IndexOf(start, StringComparison.Ordinal);
        if (from < 0) return null;
        from += start.Length;
        if (end is null) return text[from..];
        var to = text.IndexOf(end, from, StringComparison.Ordinal);
        return to < 0 ? null : text[from..to];
    }

    private static int IndexOrEnd(string text, string value) => text.IndexOf(value, StringComparison.Ordinal) is var i and >= 0 ? i : text.Length;

    private static string Seconds(TimeSpan t) => Math.Max(t.TotalSeconds, 0.001).ToString("0.###", CultureInfo.InvariantCulture);
}
