// The API client, for every component under the app.
import { createContext, useContext } from 'react';
import type { ApiClient } from '../../../engine/api/client.ts';

export const ClientContext = createContext<ApiClient | null>(null);

export function useClient(): ApiClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside ClientContext');
  return client;
}

let counter = 0;
/** An id for a long call's progress events and its cancellation. */
export const newOperationId = (label: string) => `${label}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
