using System.Net.Http;
using System.Security.Cryptography;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Artifacts;

/// <summary>An artifact that cannot be fetched or does not match its pinned checksum.</summary>
/// <summary>An artifact could not be fetched (the environment's fault) or does not match the commit's checksum (the commit's).</summary>
public sealed class ArtifactException(string message, FailureKind kind = FailureKind.EnvironmentFault) : ReconcilerException(kind, message);

/// <summary>
/// Fetches artifacts into a content-addressed cache (CACHE/SHA256) and verifies the pinned sha256 before
/// anything is sent to a host. Sources: a path relative to the repo root (must stay inside it), file:///abs/path,
/// or http(s):// (HttpClient; streamed to a temp file, hashed on the way, renamed into the cache when it matches).
/// A cached file is re-hashed on every fetch, so a corrupted cache entry is replaced instead of deployed.
/// </summary>
public sealed class ArtifactFetcher(string repoRoot, string cacheDirectory, HttpClient http) : IArtifactFetcher
{
    public static string DefaultCacheDirectory(string repoRoot) => Path.Combine(repoRoot, ".reconciler", "artifacts");

    public async Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct)
    {
        var expected = ExpectedSha256(artifact);
        return await GetOrAddAsync(cacheDirectory, expected, async temp =>
        {
            if (Uri.TryCreate(artifact.Url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                return await DownloadAsync(uri, temp, ct);
            var source = LocalSource(artifact.Url);
            await using var from = OpenLocal(source, artifact.Url);
            await using var to = File.Create(temp);
            return await CopyHashingAsync(from, to, ct);
        }, actual => new ArtifactException(
            $"artifact {artifact.Url}: sha256 mismatch: expected {expected}, actual {actual}. If the artifact changed on purpose, " +
            "update artifact.sha256 in the service file; otherwise the artifact was tampered with or corrupted.", FailureKind.CommitFault), ct);
    }

    /// <summary>The pinned sha256, normalised; a clear error when it is not 64 hex digits.</summary>
    public static string ExpectedSha256(ArtifactSpec artifact)
    {
        var expected = artifact.Sha256.Trim().ToLowerInvariant();
        return ReleaseLayout.IsValidSha256(expected) ? expected
            : throw new ArtifactException($"artifact {artifact.Url}: sha256 '{ReleaseLayout.Printable(artifact.Sha256)}' is not 64 hex digits", FailureKind.CommitFault);
    }

    /// <summary>The content-addressed cache every artifact source shares: returns CACHE/SHA256 when it is there and intact;
    /// otherwise <paramref name="fill"/> writes the artifact to a temporary file and returns the sha256 of what it wrote,
    /// which must equal <paramref name="expected"/> before the file is renamed into place (never a half-written entry).</summary>
    public static async Task<string> GetOrAddAsync(string cacheDirectory, string expected, Func<string, Task<string>> fill,
        Func<string, Exception> mismatch, CancellationToken ct)
    {
        Directory.CreateDirectory(cacheDirectory);
        var cached = Path.Combine(cacheDirectory, expected);
        if (File.Exists(cached) && await HashAsync(cached, ct) == expected) return cached;

        var temp = Path.Combine(cacheDirectory, $".{expected}.{Guid.NewGuid():N}.part");
        try
        {
            var actual = await fill(temp);
            if (actual != expected) throw mismatch(actual);
            File.Move(temp, cached, overwrite: true);
            return cached;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private string LocalSource(string url)
    {
        if (url.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var fileUri) || !fileUri.IsFile)
                throw new ArtifactException($"artifact {url}: not a valid file:// URL (use file:///absolute/path)", FailureKind.CommitFault);
            return fileUri.LocalPath;
        }
        if (url.Contains("://", StringComparison.Ordinal))
            throw new ArtifactException($"artifact {url}: unsupported scheme (use a repo-relative path, file://, http:// or https://)", FailureKind.CommitFault);
        var root = Path.GetFullPath(repoRoot);
        var full = Path.GetFullPath(Path.Combine(root, url));
        if (Path.IsPathRooted(url) || !full.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
            throw new ArtifactException($"artifact {url}: a path must be relative to the repo root and stay inside it (or use file:///...)", FailureKind.CommitFault);
        return full;
    }

    private static FileStream OpenLocal(string path, string url)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArtifactException($"artifact {url}: file {path} does not exist");
        }
        catch (UnauthorizedAccessException)
        {
            throw new ArtifactException($"artifact {url}: cannot read {path} (permission denied)");
        }
    }

    private async Task<string> DownloadAsync(Uri uri, string temp, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
                throw new ArtifactException($"artifact {uri}: download failed with HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            await using var from = await response.Content.ReadAsStreamAsync(ct);
            await using var to = File.Create(temp);
            return await CopyHashingAsync(from, to, ct);
        }
        catch (HttpRequestException e)
        {
            throw new ArtifactException($"artifact {uri}: download failed: {e.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ArtifactException($"artifact {uri}: download timed out");
        }
    }

    public static async Task<string> CopyHashingAsync(Stream from, Stream to, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        int read;
        while ((read = await from.ReadAsync(buffer, ct)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            await to.WriteAsync(buffer.AsMemory(0, read), ct);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static async Task<string> HashAsync(string path, CancellationToken ct)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
    }
}
