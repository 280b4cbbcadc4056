import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setSession, type Session } from './api';
import { Directory } from './pages/directory';
import { Overview } from './pages/overview';
import { Performance } from './pages/performance';
import { Placement } from './pages/placement';
import { Settings } from './pages/settings';
import './style.css';

const PAGES = [
  { id: 'overview', title: 'Overview', view: Overview },
  { id: 'performance', title: 'Performance', view: Performance },
  { id: 'placement', title: 'Placement', view: Placement },
  { id: 'directory', title: 'Directory', view: Directory },
  { id: 'settings', title: 'Settings', view: Settings },
] as const;

function pageFromHash(): string {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.id === id) ? id : 'overview';
}

function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api.post<Session>('/v1/session', { token });
      setToken('');
      onLogin(s);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>mailfleet hub</h1>
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label for="token">Admin or read-only token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} aria-invalid={error ? 'true' : undefined} />
        {error && (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}

function App() {
  const [session, setS] = useState<Session | null | undefined>(undefined);
  const [page, setPage] = useState(pageFromHash());

  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    addEventListener('hashchange', onHash);
    api
      .get<Session>('/v1/session')
      .then((s) => {
        setSession(s);
        setS(s);
      })
      .catch(() => setS(null));
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (session === undefined) return <p aria-busy="true">Loading…</p>;
  if (session === null)
    return (
      <Login
        onLogin={(s) => {
          setSession(s);
          setS(s);
        }}
      />
    );

  const logout = async () => {
    await api.del('/v1/session').catch(() => undefined);
    setSession(undefined);
    setS(null);
  };
  const current = PAGES.find((p) => p.id === page) ?? PAGES[0];
  const View = current.view;
  const readOnly = session.kind === 'read-only';
  return (
    <>
      <header>
        <span class="brand">mailfleet hub</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={`#/${p.id}`} aria-current={p.id === current.id ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" data-testid="session-kind">
          {readOnly ? 'read-only' : 'admin'}
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <main>
        <h1>{current.title}</h1>
        <View readOnly={readOnly} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
