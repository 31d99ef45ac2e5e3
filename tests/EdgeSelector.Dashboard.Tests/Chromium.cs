using Microsoft.Playwright;

namespace EdgeSelector.Dashboard.Tests;

/// <summary>
/// Headless Chromium for the page tests: Debian's <c>chromium</c> package (or EDGESELECTOR_CHROMIUM), driven by
/// Playwright through <see cref="BrowserTypeLaunchPersistentContextOptions.ExecutablePath"/>, in a fresh profile
/// directory that is deleted afterwards. Playwright's own browser download is never used (it cannot work offline).
/// </summary>
internal sealed class Chromium : IAsyncDisposable
{
    /// <summary>Where the browser is looked for when EDGESELECTOR_CHROMIUM is not set.</summary>
    public static readonly string[] Candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

    // As the machine notes give them: without the background-networking switches Chromium keeps trying to reach
    // Google's hosts, which a closed network refuses.
    private static readonly string[] Flags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ];

    private readonly IPlaywright _playwright;
    private readonly string _profile;

    private Chromium(IPlaywright playwright, IBrowserContext context, string profile)
    {
        _playwright = playwright;
        Context = context;
        _profile = profile;
    }

    public IBrowserContext Context { get; }

    /// <summary>The browser's path; fails the test, saying how to install it, when there is none.</summary>
    public static string Locate()
    {
        var configured = Environment.GetEnvironmentVariable("EDGESELECTOR_CHROMIUM");
        if (!string.IsNullOrEmpty(configured))
        {
            Assert.True(File.Exists(configured), $"EDGESELECTOR_CHROMIUM={configured} does not exist");
            return configured;
        }

        var found = Candidates.FirstOrDefault(File.Exists);
        Assert.True(
            found is not null,
            "The dashboard's browser tests need Chromium and found none at " + string.Join(", ", Candidates) + ". " +
            "Install Debian's package (sudo apt-get install chromium), or point EDGESELECTOR_CHROMIUM at a Chrome/Chromium " +
            "binary; .ci/run installs it. To run everything else without a browser: " +
            "dotnet test EdgeSelector.sln -c Release --filter \"Category!=Browser\" (docs/dashboard.md).");
        return found!;
    }

    public static async Task<Chromium> LaunchAsync()
    {
        var executable = Locate();
        var profile = Directory.CreateTempSubdirectory("es-chromium-").FullName;
        var playwright = await Playwright.CreateAsync();
        try
        {
            var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = executable,
                Headless = true,
                Args = Flags,
                ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
                Timeout = 120_000,
            });
            context.SetDefaultTimeout(60_000);
            return new Chromium(playwright, context, profile);
        }
        catch
        {
            playwright.Dispose();
            Directory.Delete(profile, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        _playwright.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be writing its last files while it exits; the directory is in /tmp.
        }
    }
}
