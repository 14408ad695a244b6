using System.Security.Cryptography;
using System.Text;

namespace Reconciler.Schema.Loading;

/// <summary>
/// An infra repo held in memory (path -> content), for tests and benchmarks. Content ids are the Git blob SHA-1
/// (<c>blob &lt;length&gt;\0&lt;bytes&gt;</c>), the same ids a Git source reports, so cache behaviour matches.
/// </summary>
public sealed class InMemoryRepoSource : IRepoFileSource
{
    private readonly IReadOnlyList<RepoFile> _files;

    public InMemoryRepoSource(IEnumerable<KeyValuePair<string, string>> files, string revision = "working-tree")
        : this(files.Select(f => new KeyValuePair<string, byte[]>(f.Key, Encoding.UTF8.GetBytes(f.Value))), revision)
    {
    }

    public InMemoryRepoSource(IEnumerable<KeyValuePair<string, byte[]>> files, string revision = "working-tree")
    {
        Revision = revision;
        _files = files
            .OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(f =>
            {
                var bytes = f.Value;
                return new RepoFile(f.Key, GitBlobId(bytes), bytes.LongLength, () => bytes);
            })
            .ToList();
    }

    public string Revision { get; }

    public IReadOnlyList<RepoFile> ListFiles() => _files;

    /// <summary>The id Git gives a blob with these bytes (SHA-1 of "blob LEN\0" + bytes), lowercase hex.</summary>
    public static string GitBlobId(ReadOnlySpan<byte> content)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha.AppendData(Encoding.ASCII.GetBytes($"blob {content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)}\0"));
        sha.AppendData(content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
