// The renderer's entry: connect to the engine (whichever transport this page has), then show the app.
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { ApiClient } from '../../engine/api/client.ts';
import { App } from './app/App.tsx';
import { ClientContext } from './components/context.ts';
import { connect } from './transport.ts';
import './styles.css';

function Root() {
  const [client, setClient] = useState<ApiClient>();
  const [error, setError] = useState<string>();
  const [lost, setLost] = useState<string>();
  useEffect(() => {
    connect(setLost).then(({ client }) => setClient(client), (err: Error) => setError(err.message));
  }, []);
  if (error) return <div className="fatal" role="alert"><h1>Hangar cannot reach its engine</h1><p>{error}</p></div>;
  if (!client) return <div className="fatal" aria-busy="true">Connecting to the engine…</div>;
  return (
    <ClientContext.Provider value={client}>
      <App client={client} connectionLost={lost} />
    </ClientContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<StrictMode><Root /></StrictMode>);
